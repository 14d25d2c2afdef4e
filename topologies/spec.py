"""The topology file's schema: everything one run needs, validated before anything starts.

    name = "fedasync-digits"
    seed = 0
    [graph]   template = "star", clients = 20
    [server]  algorithm = "fedasync", alpha = 0.6, ...
    [client]  epochs = 1, batch_size = 16, lr = 0.1, ...
    [model]   kind = "mlp", hidden = [64]
    [data]    kind = "digits"   [data.partition] kind = "dirichlet", alpha = 0.5
    [stop]    target_accuracy = 0.9, max_versions = 500
    [placement] processes = 3

Every table is frozen and rejects unknown keys, so a typo is an error that
names the key, never a silent default. Variants are discriminated unions:
`server.algorithm`, `graph.template`, `model.kind`, `data.kind`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from actors.client.local_sgd import TrainConfig
from actors.server.fedasync import FedAsyncConfig
from actors.server.fedavg import FedAvgConfig
from actors.server.fedbuff import FedBuffConfig
from actors.server.stop import StopConfig
from topologies.specs.data import CallablePath, DataSpec, SyntheticDataSpec
from topologies.specs.model import ModelSpec

ServerSpec = Annotated[FedAvgConfig | FedAsyncConfig | FedBuffConfig, Field(discriminator="algorithm")]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StarGraphSpec(_Spec):
    """One server and `clients` clients."""

    template: Literal["star"] = "star"
    clients: int = Field(gt=0)


GraphSpec = StarGraphSpec


class ClientSpec(TrainConfig):
    """How clients train (TrainConfig's fields) and, optionally, with whose code.

    Attributes:
        trainer: `module:attr` of a factory `(model, x, y, config, seed) -> Trainer`
            replacing the built-in torch trainer.
    """

    trainer: CallablePath | None = None


class PlacementSpec(_Spec):
    """Where actors run in `--mode local`.

    Attributes:
        processes: node processes (the server gets the first; clients are
            spread evenly over the others; 1 puts every actor in one process).
        transport: `tcp` on loopback with ephemeral ports, or `ipc` sockets in the run directory.
    """

    processes: int = Field(default=3, ge=1)
    transport: Literal["tcp", "ipc"] = "tcp"


class RunSpec(_Spec):
    """A whole topology file."""

    name: str = Field(default="run", pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = Field(default=0, ge=0)
    mode: Literal["local"] = "local"
    graph: GraphSpec
    server: ServerSpec
    client: ClientSpec = Field(default_factory=ClientSpec)
    model: ModelSpec
    data: DataSpec
    stop: StopConfig
    placement: PlacementSpec = Field(default_factory=PlacementSpec)

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        clients = self.graph.clients
        if self.stop.max_rounds is not None and self.server.algorithm != "fedavg":
            raise ValueError(
                f"stop.max_rounds applies to synchronous servers; {self.server.algorithm} counts "
                "versions: use stop.max_versions"
            )
        if isinstance(self.server, FedAvgConfig):
            _at_most("server.min_clients", self.server.min_clients, "graph.clients", clients)
            _at_most("server.clients_per_round", self.server.clients_per_round, "graph.clients", clients)
            _at_most("server.min_updates", self.server.min_updates, "graph.clients", clients)
        natural = isinstance(self.data, SyntheticDataSpec) and self.data.partition.kind == "natural"
        if natural and self.data.num_users != clients:  # type: ignore[union-attr]
            raise ValueError(
                f"data.num_users ({self.data.num_users}) must equal graph.clients ({clients}) "  # type: ignore[union-attr]
                "with the natural partition (one client per user)"
            )
        return self


def _at_most(name: str, value: int | None, bound_name: str, bound: int) -> None:
    if value is not None and value > bound:
        raise ValueError(f"{name} ({value}) cannot exceed {bound_name} ({bound})")
