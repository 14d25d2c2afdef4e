"""Declarations of the `[sim]` table of a topology file: how a simulation uses the machine.

    [sim]
    workers = 4                       # training worker processes (default: usable cores; 1: inline)
    devices = ["cuda:0", "cuda:1"]    # the workers' devices, dealt out in turn (default: [client] device)
    hosts = "hosts.toml"              # start the workers on these hosts (SSH or Slurm)

Only where training runs changes: events and weights are the same, bit for
bit, for any number of workers. See docs/simulation.md, "Scaling".
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _torch_device(name: str) -> str:
    if not re.fullmatch(r"cpu|cuda(:[0-9]+)?", name):
        raise ValueError(f"a device is 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got {name!r}")
    return name


#: A torch device a topology may name: the CPU, or a CUDA GPU (by index).
Device = Annotated[str, AfterValidator(_torch_device)]


class SimSpec(BaseModel):
    """How `--mode sim` spreads client training.

    Attributes:
        workers: training worker processes (None: the cores this process may
            use; 1 trains inline in the simulation process, as before workers).
        devices: the workers' devices, dealt out in turn, several workers per
            GPU allowed (empty: every worker uses `[client] device`).
        hosts: a hosts file (as for `fedactors launch`) to start the workers on.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    workers: int | None = Field(default=None, ge=1, le=1024)
    devices: list[Device] = Field(default_factory=list)
    hosts: str | None = None
