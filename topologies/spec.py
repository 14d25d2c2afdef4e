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
    [checkpoint] every_versions = 10, every_s = 30
    [report]  tensorboard = true

Every table is frozen and rejects unknown keys, so a typo is an error that
names the key, never a silent default. Variants are discriminated unions:
`server.algorithm`, `graph.template`, `model.kind`, `data.kind`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from actors.configs.client import TrainConfig
from actors.configs.peers import DpsgdConfig, PairwiseConfig
from actors.configs.schedulers import AsyncEdgeConfig, HierFavgConfig, RelayConfig, SchedulerConfig
from actors.configs.servers import (
    CheckpointConfig,
    CustomServerConfig,
    FedAsyncConfig,
    FedAvgConfig,
    FedBuffConfig,
)
from actors.liveness import LivenessConfig
from actors.server.stop import StopConfig
from topologies.custom import register_user_code
from topologies.errors import TopologyError
from topologies.graph import Graph
from topologies.graph_specs import GraphSpec
from topologies.imports import add_import_paths
from topologies.limits import MAX_PROCESSES
from topologies.specs.behaviour import BehaviourSpec
from topologies.specs.compression import CompressionSpec
from topologies.specs.data import CallablePath, DataSpec, SyntheticDataSpec, check_callable
from topologies.specs.model import ModelSpec
from topologies.specs.report import ReportSpec
from topologies.specs.security import SecuritySpec
from topologies.specs.sim import Device, SimSpec

ServerSpec = Annotated[
    FedAvgConfig | FedAsyncConfig | FedBuffConfig | CustomServerConfig, Field(discriminator="algorithm")
]
SchedulerSpec = SchedulerConfig
PeerSpec = Annotated[DpsgdConfig | PairwiseConfig, Field(discriminator="algorithm")]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClientSpec(TrainConfig):
    """How clients train (TrainConfig's fields) and, optionally, with whose code.

    Attributes:
        trainer: `module:attr` of a factory `(model, x, y, config, seed) -> Trainer`
            replacing the built-in torch trainer.
        device: where clients train: "cpu", "cuda" or "cuda:N".
    """

    trainer: CallablePath | None = None
    device: Device = "cpu"

    @field_validator("trainer")
    @classmethod
    def _trainer_takes_the_call(cls, trainer: str | None) -> str | None:
        if trainer is not None:
            check_callable(trainer, "f(model, x, y, config, seed)", None, None, None, None, 0)
        return trainer


class PlacementSpec(_Spec):
    """Where actors run in `--mode local` (and, with a hosts file, `fedactors launch`).

    Attributes:
        processes: node processes (the server gets the first; clients and
            peers are spread evenly over the others, each scheduler joins the
            process holding most of its children; 1 puts every actor in one
            process). A hosts file's `processes_per_host` replaces it.
        transport: `tcp` on loopback with ephemeral ports, or `ipc` sockets in the run directory.
        time_scale: real seconds per modelled second in `--mode local` (0.1: a
            modelled 10 s compute time takes 1 s).
        nodes: node id -> its actors, replacing the packing (`fedactors launch`
            writes it into the run's topology.json; `node-0` should hold the server).
        hosts: node id -> host name, for the plan's display and the logs.
    """

    processes: int = Field(default=3, ge=1, le=MAX_PROCESSES)
    transport: Literal["tcp", "ipc"] = "tcp"
    time_scale: float = Field(default=1.0, gt=0)
    nodes: dict[str, list[str]] | None = Field(default=None, min_length=1)
    hosts: dict[str, str] | None = None

    @model_validator(mode="after")
    def _hosts_name_nodes(self) -> PlacementSpec:
        unknown = sorted(set(self.hosts or {}) - set(self.nodes or {}))
        if unknown:
            raise ValueError(f"placement.hosts names nodes {unknown} that placement.nodes does not declare")
        return self


class RunSpec(_Spec):
    """A whole topology file.

    Attributes:
        import_paths: folders `module:attr` paths import from, after the
            installed packages; set by the loader (the file's folder and the
            working directory), not written in topology files.
    """

    import_paths: tuple[str, ...] = ()  # first: fields are validated in order, and later ones import
    name: str = Field(default="run", pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = Field(default=0, ge=0)
    mode: Literal["local", "sim"] = "local"
    graph: GraphSpec
    server: ServerSpec | None = None
    scheduler: SchedulerSpec | None = None
    peer: PeerSpec | None = None
    client: ClientSpec = Field(default_factory=ClientSpec)
    model: ModelSpec
    data: DataSpec
    stop: StopConfig
    behaviour: BehaviourSpec = Field(default_factory=BehaviourSpec)
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    security: SecuritySpec = Field(default_factory=SecuritySpec)
    liveness: LivenessConfig = Field(default_factory=LivenessConfig)
    checkpoint: CheckpointConfig = Field(default_factory=CheckpointConfig)
    sim: SimSpec = Field(default_factory=SimSpec)
    compression: CompressionSpec = Field(default_factory=CompressionSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)

    @field_validator("import_paths")
    @classmethod
    def _register_import_paths(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        """Before any later field imports user code, so a node reading topology.json finds it too."""
        add_import_paths(paths)
        return paths

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
    def _user_code_registered(self) -> RunSpec:
        edge = getattr(self.scheduler, "edge", None)
        tables = {"server": self.server, "scheduler": self.scheduler, "scheduler.edge": edge}
        register_user_code({name: table for name, table in tables.items() if table is not None})
        return self

    @model_validator(mode="after")
    def _consistent(self) -> RunSpec:
        clients = self.graph.learner_count()
        graph = self.graph.build()
        self._check_roles_have_tables(graph)
        self._check_fallbacks(graph)
        self.compression.check(graph, deltas_up=not isinstance(self.server, FedAsyncConfig))
        timed = self.behaviour.compute.time is not None
        if isinstance(self.peer, PairwiseConfig) and self.mode == "sim" and not timed:
            raise ValueError(
                "pairwise gossip in mode 'sim' needs behaviour.compute.time: with no modelled "
                "compute time, peers would exchange forever without the virtual clock moving"
            )
        if self.server is None:
            return self
        if self.stop.max_rounds is not None and self.server.algorithm != "fedavg":
            raise ValueError(
                f"stop.max_rounds applies to synchronous servers; {self.server.algorithm} counts "
                "versions: use stop.max_versions"
            )
        if isinstance(self.server, FedAvgConfig):
            bound, count = self._server_children(graph)
            _at_most("server.min_clients", self.server.min_clients, bound, count)
            _at_most("server.clients_per_round", self.server.clients_per_round, bound, count)
            _at_most("server.min_updates", self.server.min_updates, bound, count)
        self._check_lost_work_is_recovered()
        data = self.data
        natural = isinstance(data, SyntheticDataSpec) and data.partition.kind == "natural"
        if natural and isinstance(data, SyntheticDataSpec) and data.num_users != clients:
            raise ValueError(
                f"data.num_users ({data.num_users}) must equal the graph's clients ({clients}) "
                "with the natural partition (one client per user)"
            )
        return self

    def algorithm(self) -> str:
        """The run's algorithm in a few words: `fedavg`, `fedavg + hierfavg edges`, `dpsgd`."""
        if self.peer is not None:
            return self.peer.algorithm
        name = self.server.algorithm if self.server is not None else "?"
        return f"{name} + {self.scheduler.mode} edges" if self.scheduler is not None else name

    def _check_roles_have_tables(self, graph: Graph) -> None:
        """Each role the graph has needs its table; a table for a role it lacks is a mistake."""
        needs = {
            "server": graph.count("server") > 0,
            "scheduler": graph.count("scheduler") > 0,
            "peer": graph.count("peer") > 0,
        }
        for table, needed in needs.items():
            given = getattr(self, table) is not None
            if needed and not given:
                raise ValueError(f"the graph has {table} nodes: add a [{table}] table")
            if given and not needed:
                raise ValueError(
                    f"[{table}] is set but the graph ({self.graph.template}) has no {table} nodes"
                )

    def _check_fallbacks(self, graph: Graph) -> None:
        """`[liveness] fallback`: scheduler -> another scheduler or the server, not one below it."""
        ids = {n.id for n in graph.nodes}
        for scheduler, target in self.liveness.fallback.items():
            where = f"liveness.fallback.{scheduler}"
            if scheduler not in ids or graph.node(scheduler).role != "scheduler":
                raise ValueError(f"{where}: {scheduler!r} is not a scheduler of the graph")
            if target not in ids or graph.node(target).role not in ("scheduler", "server"):
                raise ValueError(f"{where}: {target!r} is not a scheduler or the server of the graph")
            above: str | None = target
            while above is not None and above != scheduler:
                above = graph.parent_of(above)
            if above == scheduler:
                raise ValueError(f"{where}: {target!r} is {scheduler!r} or one below it")

    def _server_children(self, graph: Graph) -> tuple[str, int]:
        """What a FedAvg server's client counts are bounded by: its children, or
        every client when relays pass them through."""
        root = graph.root()
        if isinstance(self.scheduler, RelayConfig) or root is None:
            return "the graph's clients", self.graph.learner_count()
        return "the server's children in the graph", len(graph.children_of(root))

    def _check_lost_work_is_recovered(self) -> None:
        assert self.server is not None  # the caller returned early without a server
        availability = self.behaviour.availability
        if not (availability.drop_probability or availability.on_off or availability.crashes):
            return
        if isinstance(self.server, FedAvgConfig) and self.server.round_deadline_s is None:
            raise ValueError("clients can drop tasks: set server.round_deadline_s, or a round waits forever")
        if not isinstance(self.server, FedAvgConfig) and self.server.task_timeout_s is None:
            raise ValueError(
                "clients can drop tasks: set server.task_timeout_s, or dropped work is never re-issued"
            )
        if isinstance(self.scheduler, HierFavgConfig) and self.scheduler.round_deadline_s is None:
            raise ValueError(
                "clients can drop tasks: set scheduler.round_deadline_s, or an edge round waits forever"
            )
        if isinstance(self.scheduler, AsyncEdgeConfig) and self.scheduler.edge.task_timeout_s is None:
            raise ValueError(
                "clients can drop tasks: set scheduler.edge.task_timeout_s, or work dropped below an edge "
                "is never re-issued"
            )


def _at_most(name: str, value: int | None, bound_name: str, bound: int) -> None:
    if value is not None and value > bound:
        raise ValueError(f"{name} ({value}) cannot exceed {bound_name} ({bound})")
