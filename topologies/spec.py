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

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from actors.client.local_sgd import TrainConfig
from actors.server.fedasync import FedAsyncConfig
from actors.server.fedavg import FedAvgConfig
from actors.server.fedbuff import FedBuffConfig
from actors.server.stop import StopConfig
from topologies.errors import TopologyError
from topologies.graph_specs import GraphSpec
from topologies.specs.behaviour import BehaviourSpec
from topologies.specs.data import CallablePath, DataSpec, SyntheticDataSpec
from topologies.specs.model import ModelSpec

ServerSpec = Annotated[FedAvgConfig | FedAsyncConfig | FedBuffConfig, Field(discriminator="algorithm")]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
        time_scale: real seconds per modelled second in `--mode local` (0.1: a
            modelled 10 s compute time takes 1 s).
    """

    processes: int = Field(default=3, ge=1)
    transport: Literal["tcp", "ipc"] = "tcp"
    time_scale: float = Field(default=1.0, gt=0)


class RunSpec(_Spec):
    """A whole topology file."""

    name: str = Field(default="run", pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = Field(default=0, ge=0)
    mode: Literal["local", "sim"] = "local"
    graph: GraphSpec
    server: ServerSpec
    client: ClientSpec = Field(default_factory=ClientSpec)
    model: ModelSpec
    data: DataSpec
    stop: StopConfig
    behaviour: BehaviourSpec = Field(default_factory=BehaviourSpec)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)

    @field_validator("graph")
    @classmethod
    def _graph_runs(cls, graph: GraphSpec) -> GraphSpec:
        """Build and validate the graph now, so the loader reports it under `graph`."""
        try:
            graph.build()
        except TopologyError as exc:
            raise ValueError(str(exc)) from exc  # pydantic reports ValueError as a field error
        return graph

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        clients = self.graph.learner_count()
        if self.stop.max_rounds is not None and self.server.algorithm != "fedavg":
            raise ValueError(
                f"stop.max_rounds applies to synchronous servers; {self.server.algorithm} counts "
                "versions: use stop.max_versions"
            )
        if isinstance(self.server, FedAvgConfig):
            bound = "the graph's clients"
            _at_most("server.min_clients", self.server.min_clients, bound, clients)
            _at_most("server.clients_per_round", self.server.clients_per_round, bound, clients)
            _at_most("server.min_updates", self.server.min_updates, bound, clients)
        self._check_lost_work_is_recovered()
        natural = isinstance(self.data, SyntheticDataSpec) and self.data.partition.kind == "natural"
        if natural and self.data.num_users != clients:  # type: ignore[union-attr]
            raise ValueError(
                f"data.num_users ({self.data.num_users}) must equal the graph's clients ({clients}) "  # type: ignore[union-attr]
                "with the natural partition (one client per user)"
            )
        return self

    def _check_lost_work_is_recovered(self) -> None:
        availability = self.behaviour.availability
        if not (availability.drop_probability or availability.on_off or availability.crashes):
            return
        if isinstance(self.server, FedAvgConfig) and self.server.round_deadline_s is None:
            raise ValueError("clients can drop tasks: set server.round_deadline_s, or a round waits forever")
        if not isinstance(self.server, FedAvgConfig) and self.server.task_timeout_s is None:
            raise ValueError(
                "clients can drop tasks: set server.task_timeout_s, or dropped work is never re-issued"
            )


def _at_most(name: str, value: int | None, bound_name: str, bound: int) -> None:
    if value is not None and value > bound:
        raise ValueError(f"{name} ({value}) cannot exceed {bound_name} ({bound})")
