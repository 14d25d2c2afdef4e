"""The gossip peers' settings (`[peer]`, found by `algorithm`); the peers are in `actors.peer`.

Data only, no torch (see `actors.configs`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The gossip monitor's actor id: placement and the builders need it, not the actor.
MONITOR = "monitor"


class DpsgdConfig(BaseModel):
    """D-PSGD's settings.

    Attributes:
        algorithm: `dpsgd` (Lian et al.'s update) or `atc` (adapt then combine).
        report_every: rounds between reports to the monitor (its evaluation period).
        gossip_steps: averaging exchanges with the neighbours per round.
        init: `independent`: each peer draws its own initial model (consensus
            starts far apart); `same`: every peer starts from the same model.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["dpsgd", "atc"] = "dpsgd"
    report_every: int = Field(default=1, gt=0)
    gossip_steps: int = Field(default=1, gt=0)
    init: Literal["independent", "same"] = "independent"


class PairwiseConfig(BaseModel):
    """Pairwise gossip's settings.

    Attributes:
        eval_every_s: the monitor scores the average model every this many clock seconds.
        exchange_timeout_s: how long an exchange waits for the neighbour's reply.
        init: `independent` (each peer its own initial model) or `same`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    algorithm: Literal["pairwise"] = "pairwise"
    eval_every_s: float = Field(default=10.0, gt=0)
    exchange_timeout_s: float = Field(default=30.0, gt=0)
    init: Literal["independent", "same"] = "independent"
