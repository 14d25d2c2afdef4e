"""The `[graph]` table: one spec per template, a discriminated union on `template`.

    [graph]
    template = "hierarchy"
    levels = [1, 4, 40]          # 1 server, 4 schedulers, 40 clients

    [graph]
    template = "torus"
    rows = 4
    cols = 4
    mixing = { kind = "metropolis_hastings" }

Each spec checks its own fields; `build()` then builds the graph and
validates it (`topologies.validate`) with its given mixing weights, if any.
`RunSpec` calls `build()` while the file is validated, so a graph that cannot
run is refused before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, cast

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from topologies.builders import build_graph
from topologies.edges_csv import read_edge_rows
from topologies.errors import EdgeListError, MixingError
from topologies.graph import Graph, Role
from topologies.limits import MAX_NODES
from topologies.mixing import mixing_matrix

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)]
#: A count of nodes, at most `MAX_NODES` (see topologies.limits).
Count = Annotated[int, Field(gt=0, le=MAX_NODES)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# -- mixing -------------------------------------------------------------------


class MetropolisHastingsMixingSpec(_Spec):
    """`W_ij = 1 / (1 + max(d_i, d_j))`: symmetric, doubly stochastic on any graph."""

    kind: Literal["metropolis_hastings"] = "metropolis_hastings"


class UniformMixingSpec(_Spec):
    """`W_ij = 1 / (d_i + 1)` over a peer and its neighbours: doubly stochastic only on regular graphs."""

    kind: Literal["uniform"] = "uniform"


class GivenMixingSpec(_Spec):
    """Weights from the file: `matrix` (rows in node order), or else every edge's `weight`."""

    kind: Literal["given"] = "given"
    matrix: list[list[float]] | None = None


MixingSpec = Annotated[
    MetropolisHastingsMixingSpec | UniformMixingSpec | GivenMixingSpec, Field(discriminator="kind")
]


# -- the common part ----------------------------------------------------------


class _GraphSpec(_Spec):
    @model_validator(mode="after")
    def _bounded(self) -> _GraphSpec:
        """Refuse a graph larger than `MAX_NODES` before a single node id is made."""
        if self.node_count() > MAX_NODES:
            raise ValueError(f"the graph has {self.node_count()} nodes, more than the limit of {MAX_NODES}")
        return self

    def node_count(self) -> int:
        """How many nodes the graph has, without building it."""
        return self.learner_count() + 1

    def build(self) -> Graph:
        """The validated graph; for gossip graphs with `given` mixing, the weights are checked too.

        Built anew on each call (milliseconds for thousands of nodes); a seeded
        template gives the same graph every time.

        Raises:
            GraphError: the graph cannot run (see `topologies.validate`).
            MixingError: the mixing weights do not fit the graph.
        """
        graph = build_graph(cast("GraphSpec", self))  # only the union's members are ever built
        mixing = self._mixing_spec(graph)
        if mixing is not None and mixing.kind == "given":
            mixing_matrix(graph, mixing)
        return graph

    def mixing_matrix(self, graph: Graph | None = None) -> np.ndarray | None:
        """The gossip mixing matrix of `graph` (built from this spec if not given), None for trees.

        Raises:
            GraphError, MixingError: as `build`.
        """
        graph = graph if graph is not None else self.build()
        mixing = self._mixing_spec(graph)
        return mixing_matrix(graph, mixing) if mixing is not None else None

    def mixing_kind(self, graph: Graph) -> str | None:
        """The name of the mixing rule on `graph`, None for trees."""
        mixing = self._mixing_spec(graph)
        return mixing.kind if mixing is not None else None

    def learner_count(self) -> int:
        """How many nodes train on local data (clients of a tree, gossip peers), without building."""
        raise NotImplementedError

    def _mixing_spec(self, graph: Graph) -> MixingSpec | None:
        return None


class _GossipSpec(_GraphSpec):
    mixing: MixingSpec = Field(default_factory=MetropolisHastingsMixingSpec)

    def learner_count(self) -> int:
        return int(self.peers)  # type: ignore[attr-defined]  # every gossip spec declares its own `peers`

    def _mixing_spec(self, graph: Graph) -> MixingSpec | None:
        return self.mixing


# -- trees --------------------------------------------------------------------


class StarGraphSpec(_GraphSpec):
    """One server and `clients` clients."""

    template: Literal["star"] = "star"
    clients: Count

    def learner_count(self) -> int:
        return self.clients


class HierarchyGraphSpec(_GraphSpec):
    """A server, levels of schedulers (edge aggregators), clients at the leaves.

    Attributes:
        levels: node counts per level, server first: `[1, 4, 40]` is one server,
            4 schedulers and 40 clients, spread evenly (10 under each).
        groups: or the client count of each group under one level of schedulers.
    """

    template: Literal["hierarchy"] = "hierarchy"
    levels: list[Count] | None = Field(default=None, min_length=2, max_length=16)
    groups: list[Count] | None = Field(default=None, min_length=1, max_length=MAX_NODES)

    @field_validator("levels")
    @classmethod
    def _levels_widen(cls, levels: list[int] | None) -> list[int] | None:
        if levels is not None:
            _check_levels(levels)
        return levels

    @model_validator(mode="after")
    def _one_shape(self) -> HierarchyGraphSpec:
        if (self.levels is None) == (self.groups is None):
            raise ValueError("give levels (e.g. [1, 4, 40]) or groups (e.g. [10, 12, 8]), exactly one")
        return self

    def learner_count(self) -> int:
        return self.levels[-1] if self.levels is not None else sum(self.groups or [])

    def node_count(self) -> int:
        if self.levels is not None:
            return sum(self.levels)
        return 2 + len(self.groups or []) + self.learner_count()


def _check_levels(levels: list[int]) -> None:
    if levels[0] != 1:
        raise ValueError(f"levels[0] counts servers and must be 1, got {levels[0]}")
    for depth in range(1, len(levels)):
        if levels[depth] < levels[depth - 1]:
            raise ValueError(
                f"levels[{depth}] ({levels[depth]}) is smaller than levels[{depth - 1}] "
                f"({levels[depth - 1]}); every node of a level needs a child below it"
            )


# -- gossip -------------------------------------------------------------------


class RingGraphSpec(_GossipSpec):
    """`peers` peers in a cycle."""

    template: Literal["ring"] = "ring"
    peers: int = Field(ge=3, le=MAX_NODES)


class TorusGraphSpec(_GossipSpec):
    """A `rows` × `cols` grid of peers with wraparound (degree 4)."""

    template: Literal["torus"] = "torus"
    rows: int = Field(ge=3, le=MAX_NODES)
    cols: int = Field(ge=3, le=MAX_NODES)

    def learner_count(self) -> int:
        return self.rows * self.cols


class CompleteGraphSpec(_GossipSpec):
    """Every peer linked to every other."""

    template: Literal["complete"] = "complete"
    peers: int = Field(ge=2, le=1_000)  # n(n-1)/2 edges: 500,000 at 1,000 peers


class RandomRegularGraphSpec(_GossipSpec):
    """A connected random graph where every peer has `degree` neighbours, drawn from `seed`."""

    template: Literal["random_regular"] = "random_regular"
    peers: int = Field(ge=3, le=MAX_NODES)
    degree: int = Field(ge=2, le=1_000)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _drawable(self) -> RandomRegularGraphSpec:
        if self.degree >= self.peers:
            raise ValueError(f"degree ({self.degree}) must be below peers ({self.peers})")
        if self.degree * self.peers % 2:
            raise ValueError(
                f"degree × peers must be even (every edge has two ends), got {self.degree} × {self.peers}"
            )
        return self


class ErdosRenyiGraphSpec(_GossipSpec):
    """G(peers, p), redrawn from `seed` until connected."""

    template: Literal["erdos_renyi"] = "erdos_renyi"
    peers: int = Field(ge=2, le=10_000)  # every pair is drawn: 5·10⁷ draws at 10,000 peers
    p: float = Field(gt=0, le=1)
    seed: int = Field(default=0, ge=0)


class SmallWorldGraphSpec(_GossipSpec):
    """Watts–Strogatz: a ring of `k` nearest neighbours, each edge rewired with probability `p`."""

    template: Literal["small_world"] = "small_world"
    peers: int = Field(ge=3, le=MAX_NODES)
    k: int = Field(ge=2, le=1_000)
    p: float = Field(ge=0, le=1)
    seed: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _lattice(self) -> SmallWorldGraphSpec:
        if self.k % 2 or self.k >= self.peers:
            raise ValueError(f"k must be even and below peers ({self.peers}), got {self.k}")
        return self


# -- explicit -----------------------------------------------------------------


class NodeDeclSpec(_Spec):
    """One node (`id`), or `count` identical nodes `group-0`, `group-1`, …"""

    id: NodeId | None = None
    group: NodeId | None = None
    count: Count | None = None
    role: Role

    @model_validator(mode="after")
    def _one_form(self) -> NodeDeclSpec:
        if (self.id is None) == (self.group is None):
            raise ValueError("give id, or group with count, exactly one")
        if (self.group is None) != (self.count is None):
            raise ValueError("group and count go together")
        return self

    def ids(self) -> list[str]:
        return [self.id] if self.id is not None else [f"{self.group}-{i}" for i in range(self.count or 0)]


class EdgeDeclSpec(_Spec):
    """An edge, or a fan of edges between a node and every node of a group.

    Attributes:
        link: free-form settings for the link model (read by later layers).
        codec: how updates on this edge are encoded (read by later layers).
        weight: this edge's gossip mixing weight (mixing kind `given`).
    """

    source: NodeId | None = None
    source_group: NodeId | None = None
    target: NodeId | None = None
    target_group: NodeId | None = None
    link: dict[str, Any] = Field(default_factory=dict)
    codec: str | None = None
    weight: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _ends(self) -> EdgeDeclSpec:
        for end in ("source", "target"):
            if (getattr(self, end) is None) == (getattr(self, f"{end}_group") is None):
                raise ValueError(f"give {end} or {end}_group, exactly one")
        if self.source_group is not None and self.target_group is not None:
            raise ValueError("source_group and target_group together: list the edges, or use edges_csv")
        return self

    def attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"link": dict(self.link)} if self.link else {}
        if self.codec is not None:
            attrs["codec"] = self.codec
        if self.weight is not None:
            attrs["weight"] = self.weight
        return attrs


class CsvEdgesSpec(_Spec):
    """The edges of an `edges_csv` file, read when the topology is loaded.

    Attributes:
        path: the file as written (relative paths are taken from the working directory).
        edges: its rows.
    """

    path: str
    edges: tuple[EdgeDeclSpec, ...]


def _read_edges_csv(value: Any) -> Any:
    """A path becomes `{path, edges}`; an already-read table (a resolved topology) passes through."""
    if not isinstance(value, str | Path):
        return value
    try:
        return {"path": str(value), "edges": read_edges_csv(Path(value))}
    except EdgeListError as exc:
        raise ValueError(str(exc)) from exc


def read_edges_csv(path: Path) -> list[EdgeDeclSpec]:
    """The edges of a CSV edge list (see `topologies.edges_csv` for its columns).

    Raises:
        EdgeListError: the file cannot be read, or a row is not an edge (its line is named).
    """
    edges = []
    for line, fields in read_edge_rows(path):
        try:
            edges.append(EdgeDeclSpec.model_validate(fields))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise EdgeListError(str(path), line, f"{where}: {message}" if where else message) from exc
    return edges


class ExplicitGraphSpec(_GraphSpec):
    """Nodes and edges listed in the file (and, optionally, a CSV edge list).

    A graph of peers only is a gossip graph (edges undirected; `mixing` applies);
    otherwise it is a tree, each edge going from parent to child.
    """

    template: Literal["explicit"] = "explicit"
    nodes: list[NodeDeclSpec] = Field(min_length=1)
    edges: list[EdgeDeclSpec] = Field(default_factory=list)
    edges_csv: Annotated[CsvEdgesSpec, BeforeValidator(_read_edges_csv)] | None = None
    mixing: MixingSpec | None = None

    def learner_count(self) -> int:
        gossip = all(n.role == "peer" for n in self.nodes)
        return sum(n.count or 1 for n in self.nodes if n.role == ("peer" if gossip else "client"))

    def node_count(self) -> int:
        return sum(n.count or 1 for n in self.nodes)

    def csv_edges(self) -> tuple[EdgeDeclSpec, ...]:
        return self.edges_csv.edges if self.edges_csv is not None else ()

    def _mixing_spec(self, graph: Graph) -> MixingSpec | None:
        if graph.kind == "tree":
            if self.mixing is not None:
                raise MixingError("mixing applies to gossip graphs of peers; this graph is a tree")
            return None
        return self.mixing or MetropolisHastingsMixingSpec()


GraphSpec = Annotated[
    StarGraphSpec
    | HierarchyGraphSpec
    | RingGraphSpec
    | TorusGraphSpec
    | CompleteGraphSpec
    | RandomRegularGraphSpec
    | ErdosRenyiGraphSpec
    | SmallWorldGraphSpec
    | ExplicitGraphSpec,
    Field(discriminator="template"),
]
