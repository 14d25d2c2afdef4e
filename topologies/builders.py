"""Graph templates: one short function per template, found by name in `BUILDERS`.

Node ids (zero-padded to at least three digits, so that names sort in index order):

- `star`: `server`, clients `client-000` …
- `hierarchy`: `server`; schedulers named by their path from the server:
  `sched-0`, `sched-1` under the server, `sched-0-0`, `sched-0-1` under
  `sched-0`, and so on; clients `client-000` … numbered across the whole tree,
  in blocks from the first scheduler of the last level to the last.
- gossip templates: peers `peer-000` … (for `torus`, row by row:
  `peer-{row·cols + col}`); each undirected edge is stored once, source < target.
- `explicit`: the ids the file gives; a group `{ group = "c", count = 3 }` is
  `c-0`, `c-1`, `c-2`.

`build_graph` is the entry point: it builds and validates. The random
templates draw from `numpy.random.default_rng(spec.seed)` and redraw until
the graph is connected, at most `MAX_GRAPH_DRAWS` times.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from topologies.errors import GraphSamplingError, UnknownNodeError
from topologies.graph import Edge, Graph, GraphKind, GraphNode, Role
from topologies.validate import validate_graph

if TYPE_CHECKING:
    from topologies.graph_specs import GraphSpec

SERVER_ID = "server"
#: Draws a random template makes before giving up on a connected graph; at p
#: twice the connectivity threshold almost every draw is connected, so 100
#: failures mean the parameters, not bad luck.
MAX_GRAPH_DRAWS = 100


def numbered_ids(prefix: str, count: int) -> list[str]:
    """`prefix-000`, `prefix-001`, … (zero-padded so that names sort in index order)."""
    width = max(3, len(str(count - 1)))
    return [f"{prefix}-{i:0{width}d}" for i in range(count)]


def client_ids(count: int) -> list[str]:
    """`client-000`, `client-001`, …"""
    return numbered_ids("client", count)


def build_graph(spec: GraphSpec) -> Graph:
    """The graph `spec` declares, checked by `validate_graph`.

    Raises:
        GraphError: the graph cannot be run (see `topologies.validate`).
    """
    graph = BUILDERS[spec.template](spec)
    validate_graph(graph)
    return graph


# -- trees --------------------------------------------------------------------


def star(spec: Any) -> Graph:
    """One server, `spec.clients` clients, an edge from the server to each."""
    clients = client_ids(spec.clients)
    nodes = (GraphNode(SERVER_ID, "server", 0), *(GraphNode(c, "client", i) for i, c in enumerate(clients)))
    return Graph(nodes, tuple(Edge(SERVER_ID, c) for c in clients))


def hierarchy(spec: Any) -> Graph:
    """A server, levels of schedulers, clients under the last level (see the module docstring for ids)."""
    fanouts = _fanouts(spec.levels, spec.groups)
    clients = iter(client_ids(sum(fanouts[-1])))
    nodes: list[GraphNode] = [GraphNode(SERVER_ID, "server", 0)]
    edges: list[Edge] = []
    parents = [SERVER_ID]
    for depth, counts in enumerate(fanouts):
        last = depth == len(fanouts) - 1
        children = []
        for parent, count in zip(parents, counts, strict=True):
            for j in range(count):
                child = next(clients) if last else (f"sched-{j}" if parent == SERVER_ID else f"{parent}-{j}")
                children.append(child)
                edges.append(Edge(parent, child))
        role: Role = "client" if last else "scheduler"
        start = 0 if last else len(nodes) - 1
        nodes.extend(GraphNode(c, role, start + i) for i, c in enumerate(children))
        parents = children
    return Graph(tuple(nodes), tuple(edges))


def _fanouts(levels: list[int] | None, groups: list[int] | None) -> list[list[int]]:
    """Children of each parent, level by level: `levels` spread evenly, or `groups` as given."""
    if groups is not None:
        return [[len(groups)], list(groups)]
    assert levels is not None  # the spec requires one of them
    return [_spread(below, above) for above, below in itertools.pairwise(levels)]


def _spread(total: int, parts: int) -> list[int]:
    """`total` split over `parts` as evenly as possible, the first parts taking the remainder."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- gossip -------------------------------------------------------------------


def _gossip(count: int, pairs: Iterable[tuple[int, int]]) -> Graph:
    ids = numbered_ids("peer", count)
    undirected = sorted({(min(i, j), max(i, j)) for i, j in pairs})
    nodes = tuple(GraphNode(p, "peer", i) for i, p in enumerate(ids))
    return Graph(nodes, tuple(Edge(ids[i], ids[j]) for i, j in undirected), "gossip")


def ring(spec: Any) -> Graph:
    """`peers` peers in a cycle: every peer has degree 2."""
    return _gossip(spec.peers, ((i, (i + 1) % spec.peers) for i in range(spec.peers)))


def torus(spec: Any) -> Graph:
    """A `rows` × `cols` grid with wraparound: every peer has degree 4."""
    rows, cols = spec.rows, spec.cols
    pairs = []
    for r, c in itertools.product(range(rows), range(cols)):
        pairs.append((r * cols + c, r * cols + (c + 1) % cols))
        pairs.append((r * cols + c, ((r + 1) % rows) * cols + c))
    return _gossip(rows * cols, pairs)


def complete(spec: Any) -> Graph:
    """Every peer linked to every other."""
    return _gossip(spec.peers, itertools.combinations(range(spec.peers), 2))


def random_regular(spec: Any) -> Graph:
    """A connected graph drawn uniformly-ish among those where every peer has `degree` neighbours."""
    n, d = spec.peers, spec.degree
    hint = "use degree 3 or more (degree 2 draws unions of rings)" if d == 2 else "check peers and degree"
    return _connected_draw("random_regular", n, spec.seed, lambda rng: _regular_pairs(n, d, rng), hint)


def erdos_renyi(spec: Any) -> Graph:
    """G(n, p): each pair of peers linked with probability `p`, redrawn until connected."""
    n, p = spec.peers, spec.p
    rows, cols = np.triu_indices(n, k=1)

    def draw(rng: np.random.Generator) -> set[tuple[int, int]]:
        keep = rng.random(rows.size) < p
        return set(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))

    threshold = math.log(n) / n
    hint = f"raise p above ln(peers)/peers ≈ {threshold:.3g} (got p = {p})"
    return _connected_draw("erdos_renyi", n, spec.seed, draw, hint)


def small_world(spec: Any) -> Graph:
    """Watts–Strogatz (1998): a ring lattice of `k` nearest neighbours, each edge rewired with prob. `p`."""
    n, k, p = spec.peers, spec.k, spec.p
    hint = f"raise k (got k = {k}) or lower p (got p = {p})"
    return _connected_draw("small_world", n, spec.seed, lambda rng: _watts_strogatz(n, k, p, rng), hint)


def _connected_draw(
    template: str,
    count: int,
    seed: int,
    draw: Callable[[np.random.Generator], set[tuple[int, int]] | None],
    hint: str,
) -> Graph:
    """The first connected graph `draw` makes from one seeded generator.

    Raises:
        GraphSamplingError: `MAX_GRAPH_DRAWS` draws all failed or were disconnected.
    """
    rng = np.random.default_rng(seed)
    for _ in range(MAX_GRAPH_DRAWS):
        pairs = draw(rng)
        if pairs is not None:
            graph = _gossip(count, pairs)
            if graph.is_connected():
                return graph
    raise GraphSamplingError(template, MAX_GRAPH_DRAWS, hint)


def _regular_pairs(n: int, d: int, rng: np.random.Generator) -> set[tuple[int, int]] | None:
    """Pair up `d` stubs per node at random, re-pairing clashes (Steger & Wormald 1999).

    Returns None when the leftover stubs cannot be paired (the caller redraws).
    """
    edges: set[tuple[int, int]] = set()
    stubs = [v for v in range(n) for _ in range(d)]
    while stubs:
        order = rng.permutation(len(stubs))
        shuffled = [stubs[i] for i in order]
        leftover = []
        for u, v in zip(shuffled[::2], shuffled[1::2], strict=True):
            pair = (min(u, v), max(u, v))
            if u == v or pair in edges:
                leftover += [u, v]
            else:
                edges.add(pair)
        if leftover and not any(
            (a, b) not in edges for a, b in itertools.combinations(sorted(set(leftover)), 2)
        ):
            return None
        stubs = leftover
    return edges


def _watts_strogatz(n: int, k: int, p: float, rng: np.random.Generator) -> set[tuple[int, int]]:
    adjacent: list[set[int]] = [set() for _ in range(n)]
    for i, j in itertools.product(range(n), range(1, k // 2 + 1)):
        adjacent[i].add((i + j) % n)
        adjacent[(i + j) % n].add(i)
    for j, u in itertools.product(range(1, k // 2 + 1), range(n)):
        v = (u + j) % n
        if rng.random() >= p or len(adjacent[u]) >= n - 1 or v not in adjacent[u]:
            continue
        w = int(rng.integers(n))
        while w == u or w in adjacent[u]:
            w = int(rng.integers(n))
        adjacent[u].discard(v)
        adjacent[v].discard(u)
        adjacent[u].add(w)
        adjacent[w].add(u)
    return {(min(u, v), max(u, v)) for u in range(n) for v in adjacent[u]}


# -- explicit -----------------------------------------------------------------


def explicit(spec: Any) -> Graph:
    """The nodes and edges the file lists; groups expand to `group-0`, `group-1`, …"""
    groups = {n.group: n.ids() for n in spec.nodes if n.group is not None}
    nodes = _explicit_nodes(spec.nodes)
    kind: GraphKind = "gossip" if all(n.role == "peer" for n in nodes) else "tree"
    edges: list[Edge] = []
    declared = [*(("edges", e) for e in spec.edges), *(("edges_csv", e) for e in spec.csv_edges())]
    counters = {"edges": itertools.count(), "edges_csv": itertools.count()}
    for table, edge in declared:
        where = f"{table}[{next(counters[table])}]"
        sources = _ends(edge.source, edge.source_group, groups, where)
        targets = _ends(edge.target, edge.target_group, groups, where)
        for s, t in itertools.product(sources, targets):
            source, target = (min(s, t), max(s, t)) if kind == "gossip" else (s, t)
            edges.append(Edge(source, target, edge.attrs()))
    return Graph(tuple(nodes), tuple(edges), kind)


def _explicit_nodes(specs: Any) -> list[GraphNode]:
    per_role: dict[str, itertools.count[int]] = {}
    nodes: list[GraphNode] = []
    for spec in specs:
        counter = per_role.setdefault(spec.role, itertools.count())
        nodes.extend(GraphNode(node_id, spec.role, next(counter)) for node_id in spec.ids())
    return nodes


def _ends(node: str | None, group: str | None, groups: dict[str, list[str]], where: str) -> list[str]:
    if node is not None:
        return [node]
    assert group is not None  # the spec requires one of them
    if group not in groups:
        raise UnknownNodeError(group, where, "group")
    return groups[group]


BUILDERS: dict[str, Callable[[Any], Graph]] = {
    "star": star,
    "hierarchy": hierarchy,
    "ring": ring,
    "torus": torus,
    "complete": complete,
    "random_regular": random_regular,
    "erdos_renyi": erdos_renyi,
    "small_world": small_world,
    "explicit": explicit,
}
