"""The `[graph]` table: one spec per template, a discriminated union on `template`.

    [graph]
    template = "hierarchy"
    levels = [1, 4, 40]          # 1 server, 4 schedulers, 40 clients

    [graph]
    template = "torus"
    rows = 4
    cols = 4
    mixing = { kind = "metropolis_hastings" }

Each spec checks its own fields; `build()` then calls its template's builder
(`topologies.builders`, plain values in, a graph out) and validates the graph
(`topologies.validate`) with its given mixing weights, if any: the one way to
build a graph. `GRAPH_SPECS` finds a spec class by its `template`, read from the union.
`RunSpec` calls `build()` while the file is validated, so a graph that cannot
run is refused before anything starts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Annotated, Any, Literal, get_args

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from topologies import builders
from topologies.declared import Count, CsvEdgesSpec, EdgeDeclSpec, NodeDeclSpec, csv_edges_from_path
from topologies.errors import MixingError, UnknownNodeError
from topologies.graph import Graph
from topologies.limits import MAX_NODES
from topologies.mixing import MetropolisHastingsMixingSpec, MixingSpec, mixing_matrix
from topologies.validate import validate_graph


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


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
        graph = self._graph()
        validate_graph(graph)
        weights = self._mixing_spec(graph)
        if weights is not None and weights.kind == "given":
            mixing_matrix(graph, weights)
        return graph

    def mixing_matrix(self, graph: Graph | None = None) -> np.ndarray | None:
        """The gossip mixing matrix of `graph` (built from this spec if not given), None for trees.

        Raises:
            GraphError, MixingError: as `build`.
        """
        graph = graph if graph is not None else self.build()
        weights = self._mixing_spec(graph)
        return mixing_matrix(graph, weights) if weights is not None else None

    def mixing_kind(self, graph: Graph) -> str | None:
        """The name of the mixing rule on `graph`, None for trees."""
        weights = self._mixing_spec(graph)
        return weights.kind if weights is not None else None

    def learner_count(self) -> int:
        """How many nodes train on local data (clients of a tree, gossip peers), without building."""
        raise NotImplementedError

    def _graph(self) -> Graph:
        """The template's graph, built from this spec's values and not yet validated."""
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

    def _graph(self) -> Graph:
        return builders.star(self.clients)


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

    def _graph(self) -> Graph:
        return builders.hierarchy(self.levels, self.groups)


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

    def _graph(self) -> Graph:
        return builders.ring(self.peers)


class TorusGraphSpec(_GossipSpec):
    """A `rows` × `cols` grid of peers with wraparound (degree 4)."""

    template: Literal["torus"] = "torus"
    rows: int = Field(ge=3, le=MAX_NODES)
    cols: int = Field(ge=3, le=MAX_NODES)

    def learner_count(self) -> int:
        return self.rows * self.cols

    def _graph(self) -> Graph:
        return builders.torus(self.rows, self.cols)


class CompleteGraphSpec(_GossipSpec):
    """Every peer linked to every other."""

    template: Literal["complete"] = "complete"
    peers: int = Field(ge=2, le=1_000)  # n(n-1)/2 edges: 500,000 at 1,000 peers

    def _graph(self) -> Graph:
        return builders.complete(self.peers)


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

    def _graph(self) -> Graph:
        return builders.random_regular(self.peers, self.degree, self.seed)


class ErdosRenyiGraphSpec(_GossipSpec):
    """G(peers, p), redrawn from `seed` until connected."""

    template: Literal["erdos_renyi"] = "erdos_renyi"
    peers: int = Field(ge=2, le=10_000)  # every pair is drawn: 5·10⁷ draws at 10,000 peers
    p: float = Field(gt=0, le=1)
    seed: int = Field(default=0, ge=0)

    def _graph(self) -> Graph:
        return builders.erdos_renyi(self.peers, self.p, self.seed)


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

    def _graph(self) -> Graph:
        return builders.small_world(self.peers, self.k, self.p, self.seed)


# -- explicit -----------------------------------------------------------------


class ExplicitGraphSpec(_GraphSpec):
    """Nodes and edges listed in the file (and, optionally, a CSV edge list).

    A graph of peers only is a gossip graph (edges undirected; `mixing` applies);
    otherwise it is a tree, each edge going from parent to child.
    """

    template: Literal["explicit"] = "explicit"
    nodes: list[NodeDeclSpec] = Field(min_length=1)
    edges: list[EdgeDeclSpec] = Field(default_factory=list)
    edges_csv: Annotated[CsvEdgesSpec, BeforeValidator(csv_edges_from_path)] | None = None
    mixing: MixingSpec | None = None

    def learner_count(self) -> int:
        gossip = all(n.role == "peer" for n in self.nodes)
        return sum(n.count or 1 for n in self.nodes if n.role == ("peer" if gossip else "client"))

    def node_count(self) -> int:
        return sum(n.count or 1 for n in self.nodes)

    def csv_edges(self) -> tuple[EdgeDeclSpec, ...]:
        return self.edges_csv.edges if self.edges_csv is not None else ()

    def _graph(self) -> Graph:
        nodes = [(node_id, n.role) for n in self.nodes for node_id in n.ids()]
        return builders.explicit(nodes, self._edges())

    def _edges(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """Each declared edge, a fan to a group expanded (groups are `group-0`, `group-1`, …)."""
        groups = {n.group: n.ids() for n in self.nodes if n.group is not None}
        for table, declared in (("edges", self.edges), ("edges_csv", self.csv_edges())):
            for i, edge in enumerate(declared):
                sources = _ends(edge.source, edge.source_group, groups, f"{table}[{i}]")
                targets = _ends(edge.target, edge.target_group, groups, f"{table}[{i}]")
                for s, t in itertools.product(sources, targets):
                    yield s, t, edge.attrs()

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

#: Each spec class by its `template`, read from the union: a new template is one spec class
#: (calling its builder) and one line in `GraphSpec`.
GRAPH_SPECS: dict[str, type[_GraphSpec]] = {
    get_args(cls.model_fields["template"].annotation)[0]: cls for cls in get_args(get_args(GraphSpec)[0])
}


def _ends(node: str | None, group: str | None, groups: dict[str, list[str]], where: str) -> list[str]:
    if node is not None:
        return [node]
    assert group is not None  # the spec requires one of them
    if group not in groups:
        raise UnknownNodeError(group, where, "group")
    return groups[group]
