import re
from pathlib import Path

import pytest

from tests.topologies.graph_helpers import built
from topologies.errors import (
    CycleError,
    DisconnectedGraphError,
    DuplicateEdgeError,
    DuplicateNodeError,
    GraphError,
    LeafError,
    RoleEdgeError,
    RoleError,
    RootError,
    SelfLoopError,
    TwoParentsError,
    UnknownNodeError,
    UnreachableNodeError,
)
from topologies.load import TopologyFileError, parse_topology

EXAMPLES = Path(__file__).resolve().parents[2] / "topologies" / "examples"

TREE_NODES = """
template = "explicit"
nodes = [
  { id = "server", role = "server" },
  { group = "sched", role = "scheduler", count = 2 },
  { group = "c", role = "client", count = 4 },
]
"""
TREE_EDGES = [
    '{ source = "server", target_group = "sched" }',
    '{ source = "sched-0", target = "c-0" }',
    '{ source = "sched-0", target = "c-1" }',
    '{ source = "sched-1", target = "c-2" }',
    '{ source = "sched-1", target = "c-3" }',
]


def _tree(*edges: str, nodes: str = TREE_NODES) -> str:
    return nodes + "edges = [" + ", ".join(edges) + "]"


def _peers(*edges: str, count: int = 4) -> str:
    nodes = f'template = "explicit"\nnodes = [{{ group = "p", role = "peer", count = {count} }}]\n'
    return nodes + "edges = [" + ", ".join(edges) + "]"


def test_a_well_formed_explicit_tree_validates() -> None:
    graph = built(_tree(*TREE_EDGES))

    assert graph.kind == "tree"
    assert graph.depth() == 2


CASES = {
    "unknown node": (
        _tree(*TREE_EDGES, '{ source = "sched-1", target = "c-9" }'),
        UnknownNodeError,
        "edge 'sched-1'→'c-9' names node 'c-9', which is not declared",
    ),
    "unknown group": (
        _tree('{ source = "server", target_group = "schedulers" }', *TREE_EDGES[1:]),
        UnknownNodeError,
        "edge edges[0] names group 'schedulers', which is not declared",
    ),
    "duplicate id": (
        _tree(*TREE_EDGES, nodes=TREE_NODES.replace("]\n", '  { id = "c-1", role = "client" },\n]\n', 1)),
        DuplicateNodeError,
        "node id 'c-1' is declared twice; node ids must be unique",
    ),
    "self-loop": (
        _tree(*TREE_EDGES, '{ source = "sched-0", target = "sched-0" }'),
        SelfLoopError,
        "edge 'sched-0'→'sched-0' connects node 'sched-0' to itself",
    ),
    "edge declared twice": (
        _tree(*TREE_EDGES, TREE_EDGES[1]),
        DuplicateEdgeError,
        "edge 'sched-0'→'c-0' is declared twice",
    ),
    "client with children": (
        _tree(*TREE_EDGES, '{ source = "c-0", target = "c-1" }'),
        RoleEdgeError,
        "edge 'c-0'→'c-1': client 'c-0' cannot have children; clients are the leaves: "
        "attach 'c-1' to a scheduler or the server",
    ),
    "server as a child": (
        _tree(*TREE_EDGES, '{ source = "sched-0", target = "server" }'),
        RoleEdgeError,
        "edge 'sched-0'→'server': server 'server' cannot be a child; the server is the root of the tree",
    ),
    "scheduler without children": (
        _tree(
            *TREE_EDGES[:3],
            '{ source = "sched-0", target = "c-2" }',
            '{ source = "sched-0", target = "c-3" }',
        ),
        LeafError,
        "scheduler 'sched-1' has no children; only clients may be leaves",
    ),
    "two parents": (
        _tree(*TREE_EDGES, '{ source = "sched-1", target = "c-0" }'),
        TwoParentsError,
        "node 'c-0' has two parents, 'sched-0' and 'sched-1'; in a tree each node has one",
    ),
    "cycle": (
        _tree(
            '{ source = "server", target = "c-3" }',
            '{ source = "sched-0", target = "sched-1" }',
            '{ source = "sched-1", target = "sched-0" }',
            *TREE_EDGES[1:4],
        ),
        CycleError,
        "nodes 'sched-1' → 'sched-0' → 'sched-1' form a cycle; a tree has none",
    ),
    "unreachable": (
        _tree('{ source = "server", target = "sched-0" }', *TREE_EDGES[1:]),
        UnreachableNodeError,
        "node 'sched-1' has no path to root 'server': it has no parent",
    ),
    "no server": (
        _tree(*TREE_EDGES[1:], nodes=TREE_NODES.replace('role = "server"', 'role = "scheduler"')),
        RootError,
        "a tree needs exactly one server as its root, found none",
    ),
    "two servers": (
        _tree(*TREE_EDGES, nodes=TREE_NODES.replace("]\n", '  { id = "backup", role = "server" },\n]\n', 1)),
        RootError,
        "a tree needs exactly one server as its root, found 'server', 'backup'",
    ),
    "peer wired to a server": (
        _tree(
            *TREE_EDGES,
            '{ source = "server", target = "p" }',
            nodes=TREE_NODES.replace("]\n", '  { id = "p", role = "peer" },\n]\n', 1),
        ),
        RoleEdgeError,
        "edge 'server'→'p': wires server 'server' to peer 'p'; peers talk only to peers",
    ),
    "peer among clients": (
        _tree(*TREE_EDGES, nodes=TREE_NODES.replace("]\n", '  { id = "p", role = "peer" },\n]\n', 1)),
        RoleError,
        "node 'p' is a peer in a graph of servers and clients",
    ),
    "gossip pair declared both ways": (
        _peers('{ source = "p-0", target = "p-1" }', '{ source = "p-1", target = "p-0" }', count=2),
        DuplicateEdgeError,
        "edge 'p-0'—'p-1' is declared twice",
    ),
    "gossip graph in two pieces": (
        _peers('{ source = "p-0", target = "p-1" }', '{ source = "p-2", target = "p-3" }'),
        DisconnectedGraphError,
        "gossip graph is not connected: node 'p-2' has no path to 'p-0' (2 separate components)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_graph_that_cannot_run_is_refused_naming_the_node_or_edge(case: str) -> None:
    toml, error, message = CASES[case]

    with pytest.raises(error, match=re.escape(message)) as caught:
        built(toml)

    assert isinstance(caught.value, GraphError)


def test_an_unreachable_node_error_keeps_the_node_and_root_as_attributes() -> None:
    with pytest.raises(UnreachableNodeError) as caught:
        built(_tree('{ source = "server", target = "sched-0" }', *TREE_EDGES[1:]))

    assert caught.value.node == "sched-1"
    assert caught.value.root == "server"


def test_the_loader_reports_a_graph_that_cannot_run_under_graph_with_its_line() -> None:
    text = (EXAMPLES / "fedasync.toml").read_text()
    bad = text.replace(
        'template = "star"\nclients = 20', _tree('{ source = "server", target = "sched-0" }', *TREE_EDGES[1:])
    )

    with pytest.raises(TopologyFileError) as caught:
        parse_topology(bad, "bad.toml")

    (problem,) = caught.value.problems
    assert problem.field == "graph"
    assert problem.message == "node 'sched-1' has no path to root 'server': it has no parent"
    assert problem.line == 6
    assert "bad.toml:6: graph: node 'sched-1' has no path to root 'server'" in str(caught.value)
