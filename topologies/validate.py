"""Refuse a graph that cannot run, naming the node or edge at fault, before anything starts.

Every graph: unique node ids, edges between declared nodes, no self-loops, no
edge declared twice. Then, by kind:

- **tree**: roles server, scheduler, client only; edges parent → child from
  server to schedulers or clients and from schedulers to schedulers or
  clients (never into a server, never out of a client); exactly one server,
  the root; one parent per node; no cycle; every node reachable from the root;
  only clients are leaves.
- **gossip**: peers only, and connected.
"""

from __future__ import annotations

from collections import Counter

from topologies.errors import (
    CycleError,
    DisconnectedGraphError,
    DuplicateEdgeError,
    DuplicateNodeError,
    LeafError,
    RoleEdgeError,
    RoleError,
    RootError,
    SelfLoopError,
    TwoParentsError,
    UnknownNodeError,
    UnreachableNodeError,
)
from topologies.graph import Edge, Graph


def validate_graph(graph: Graph) -> None:
    """Check `graph` (see the module docstring for the rules).

    Raises:
        DuplicateNodeError, UnknownNodeError, SelfLoopError, DuplicateEdgeError:
            the nodes and edges are not a simple graph.
        RoleError, RoleEdgeError: a role does not belong, or is wired to one it cannot talk to.
        RootError, TwoParentsError, CycleError, UnreachableNodeError, LeafError:
            a tree is not a tree rooted at one server with clients at the leaves.
        DisconnectedGraphError: a gossip graph is not connected.
    """
    _check_simple(graph)
    if graph.kind == "tree":
        _check_tree_roles(graph)
        root = _check_root(graph)
        _check_parents(graph, root)
        _check_leaves(graph)
    else:
        _check_gossip_roles(graph)
        _check_connected(graph)


def edge_label(graph: Graph, edge: Edge) -> str:
    """`'a'→'b'` in a tree, `'a'—'b'` in a gossip graph (undirected)."""
    arrow = "→" if graph.kind == "tree" else "—"
    return f"{edge.source!r}{arrow}{edge.target!r}"


def _check_simple(graph: Graph) -> None:
    duplicates = [node_id for node_id, n in Counter(n.id for n in graph.nodes).items() if n > 1]
    if duplicates:
        raise DuplicateNodeError(duplicates[0])
    ids = {n.id for n in graph.nodes}
    seen: set[tuple[str, str]] = set()
    for edge in graph.edges:
        for end in (edge.source, edge.target):
            if end not in ids:
                raise UnknownNodeError(end, edge_label(graph, edge))
        if edge.source == edge.target:
            raise SelfLoopError(edge.source)
        key = (edge.source, edge.target)
        if graph.kind == "gossip":
            key = (min(key), max(key))
        if key in seen:
            raise DuplicateEdgeError(edge_label(graph, edge), edge.source)
        seen.add(key)


def _check_tree_roles(graph: Graph) -> None:
    for edge in graph.edges:
        source, target = graph.node(edge.source), graph.node(edge.target)
        label = edge_label(graph, edge)
        if source.role == target.role == "peer":
            continue  # reported below, node by node
        if "peer" in (source.role, target.role):
            other, peer = (source, target) if target.role == "peer" else (target, source)
            reason = f"wires {other.role} {other.id!r} to peer {peer.id!r}; peers talk only to peers"
            raise RoleEdgeError(label, peer.id, reason)
        if target.role == "server":
            reason = f"server {target.id!r} cannot be a child; the server is the root of the tree"
            raise RoleEdgeError(label, target.id, reason)
        if source.role == "client":
            raise RoleEdgeError(
                label,
                source.id,
                f"client {source.id!r} cannot have children; clients are the leaves: "
                f"attach {target.id!r} to a scheduler or the server",
            )
    for node in graph.of_role("peer"):
        raise RoleError(
            f"node {node.id!r} is a peer in a graph of servers and clients; a graph is either a tree "
            "of server, schedulers and clients or a gossip graph of peers only",
            node.id,
        )


def _check_root(graph: Graph) -> str:
    servers = [n.id for n in graph.of_role("server")]
    if len(servers) != 1:
        found = ", ".join(repr(s) for s in servers) or "none"
        raise RootError(
            f"a tree needs exactly one server as its root, found {found}",
            servers[1] if len(servers) > 1 else None,
        )
    return servers[0]


def _check_parents(graph: Graph, root: str) -> None:
    parents: dict[str, str] = {}
    for edge in graph.edges:
        if edge.target in parents:
            raise TwoParentsError(
                f"node {edge.target!r} has two parents, {parents[edge.target]!r} and {edge.source!r}; "
                "in a tree each node has one",
                edge.target,
            )
        parents[edge.target] = edge.source
    reached = set(graph.distances_from(root))
    for node in graph.nodes:
        if node.id not in reached:
            _raise_unreached(node.id, parents, root)


def _raise_unreached(node_id: str, parents: dict[str, str], root: str) -> None:
    """Walk up from a node the root does not reach: it ends at an orphan or goes round a cycle."""
    path = [node_id]
    while path[-1] in parents:
        parent = parents[path[-1]]
        if parent in path:
            raise CycleError(list(reversed(path[path.index(parent) :])))
        path.append(parent)
    raise UnreachableNodeError(path[-1], root)


def _check_leaves(graph: Graph) -> None:
    sources = {e.source for e in graph.edges}
    for node in graph.nodes:
        if node.role in ("server", "scheduler") and node.id not in sources:
            raise LeafError(
                f"{node.role} {node.id!r} has no children; only clients may be leaves: "
                "give it clients or schedulers below it, or remove it",
                node.id,
            )


def _check_gossip_roles(graph: Graph) -> None:
    for edge in graph.edges:
        source, target = graph.node(edge.source), graph.node(edge.target)
        if source.role != "peer" or target.role != "peer":
            other, peer = (source, target) if source.role != "peer" else (target, source)
            raise RoleEdgeError(
                edge_label(graph, edge),
                other.id,
                f"wires {other.role} {other.id!r} to {peer.role} {peer.id!r}; a gossip graph has peers only",
            )
    for node in graph.nodes:
        if node.role != "peer":
            raise RoleError(f"node {node.id!r} is a {node.role} in a gossip graph of peers", node.id)


def _check_connected(graph: Graph) -> None:
    if not graph.nodes:
        return
    first = graph.nodes[0].id
    reached = graph.distances_from(first)
    if len(reached) == len(graph.nodes):
        return
    stray = next(n.id for n in graph.nodes if n.id not in reached)
    raise DisconnectedGraphError(stray, first, _components(graph))


def _components(graph: Graph) -> int:
    unseen = {n.id for n in graph.nodes}
    count = 0
    while unseen:
        unseen -= set(graph.distances_from(next(iter(unseen))))
        count += 1
    return count
