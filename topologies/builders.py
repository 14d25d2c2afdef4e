"""Graph templates: one short function of plain values per template (`ring(peers)`,
`hierarchy(levels)`, …). The `[graph]` specs (`topologies.graph_specs`) call down
into them and validate what they build; that is the one way to build a graph.

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

The random templates draw from `numpy.random.default_rng(seed)` and redraw
until the graph is connected, at most `MAX_GRAPH_DRAWS` times.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from topologies.errors import GraphSamplingError
from topologies.graph import Edge, Graph, GraphKind, GraphNode, Role

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


# -- trees --------------------------------------------------------------------


def star(clients: int) -> Graph:
    """One server, `clients` clients, an edge from the server to each."""
    ids = client_ids(clients)
    nodes = (GraphNode(SERVER_ID, "server", 0), *(GraphNode(c, "client", i) for i, c in enumerate(ids)))
    return Graph(nodes, tuple(Edge(SERVER_ID, c) for c in ids))


def hierarchy(levels: Sequence[int] | None = None, groups: Sequence[int] | None = None) -> Graph:
    """A server, levels of schedulers, clients under the last level (see the module docstring for ids).

    Args:
        levels: node counts per level, server first (`[1, 4, 40]`), spread evenly.
        groups: or the client count of each group under one level of schedulers.
    """
    fanouts = _fanouts(levels, groups)
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


def _fanouts(levels: Sequence[int] | None, groups: Sequence[int] | None) -> list[list[int]]:
    """Children of each parent, level by level: `levels` spread evenly, or `groups` as given."""
    if groups is not None:
        return [[len(groups)], list(groups)]
    assert levels is not None  # the spec requires exactly one of them
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


def ring(peers: int) -> Graph:
    """`peers` peers in a cycle: every peer has degree 2."""
    return _gossip(peers, ((i, (i + 1) % peers) for i in range(peers)))


def torus(rows: int, cols: int) -> Graph:
    """A `rows` × `cols` grid with wraparound: every peer has degree 4."""
    pairs = []
    for r, c in itertools.product(range(rows), range(cols)):
        pairs.append((r * cols + c, r * cols + (c + 1) % cols))
        pairs.append((r * cols + c, ((r + 1) % rows) * cols + c))
    return _gossip(rows * cols, pairs)


def complete(peers: int) -> Graph:
    """Every peer linked to every other."""
    return _gossip(peers, itertools.combinations(range(peers), 2))


def random_regular(peers: int, degree: int, seed: int) -> Graph:
    """A connected graph drawn uniformly-ish among those where every peer has `degree` neighbours."""
    n, d = peers, degree
    hint = "use degree 3 or more (degree 2 draws unions of rings)" if d == 2 else "check peers and degree"
    return _connected_draw("random_regular", n, seed, lambda rng: _regular_pairs(n, d, rng), hint)


def erdos_renyi(peers: int, p: float, seed: int) -> Graph:
    """G(n, p): each pair of peers linked with probability `p`, redrawn until connected."""
    n = peers
    rows, cols = np.triu_indices(n, k=1)

    def draw(rng: np.random.Generator) -> set[tuple[int, int]]:
        keep = rng.random(rows.size) < p
        return set(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))

    threshold = math.log(n) / n
    hint = f"raise p above ln(peers)/peers ≈ {threshold:.3g} (got p = {p})"
    return _connected_draw("erdos_renyi", n, seed, draw, hint)


def small_world(peers: int, k: int, p: float, seed: int) -> Graph:
    """Watts–Strogatz (1998): a ring lattice of `k` nearest neighbours, each edge rewired with prob. `p`."""
    n = peers
    hint = f"raise k (got k = {k}) or lower p (got p = {p})"
    return _connected_draw("small_world", n, seed, lambda rng: _watts_strogatz(n, k, p, rng), hint)


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


def explicit(nodes: Sequence[tuple[str, Role]], edges: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Graph:
    """The nodes (id, role) and edges (source, target, attributes) given, in their order.

    A graph of peers only is a gossip graph, each edge stored source < target;
    otherwise a tree, each edge from parent to child. Nodes are numbered per role.
    """
    counters: dict[str, itertools.count[int]] = {}
    graph_nodes = tuple(
        GraphNode(i, role, next(counters.setdefault(role, itertools.count()))) for i, role in nodes
    )
    kind: GraphKind = "gossip" if all(n.role == "peer" for n in graph_nodes) else "tree"
    ordered = ((min(s, t), max(s, t), a) if kind == "gossip" else (s, t, a) for s, t, a in edges)
    return Graph(graph_nodes, tuple(Edge(s, t, dict(a)) for s, t, a in ordered), kind)
