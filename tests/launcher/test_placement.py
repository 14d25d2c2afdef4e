"""Placement: actors packed into node processes, processes onto hosts, pins honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.peer import MONITOR
from topologies.graph import Edge, Graph, GraphNode
from topologies.load import TopologyFileError, load_topology, parse_topology
from topologies.placement import HostSlots, PlacementError, plan_hosts, plan_processes
from topologies.spec import RunSpec

EXAMPLES = Path(__file__).resolve().parents[2] / "topologies" / "examples"


def star(clients: int) -> Graph:
    nodes = [GraphNode("server", "server", 0)] + [GraphNode(f"c{i}", "client", i) for i in range(clients)]
    return Graph(tuple(nodes), tuple(Edge("server", f"c{i}") for i in range(clients)))


def hierarchy(groups: int, per_group: int) -> Graph:
    nodes = [GraphNode("server", "server", 0)]
    edges = []
    for g in range(groups):
        nodes.append(GraphNode(f"s{g}", "scheduler", g))
        edges.append(Edge("server", f"s{g}"))
        for i in range(per_group):
            client = f"c{g * per_group + i}"
            nodes.append(GraphNode(client, "client", g * per_group + i))
            edges.append(Edge(f"s{g}", client))
    return Graph(tuple(nodes), tuple(edges))


def ring(peers: int) -> Graph:
    nodes = tuple(GraphNode(f"p{i}", "peer", i) for i in range(peers))
    edges = tuple(Edge(f"p{i}", f"p{(i + 1) % peers}") for i in range(peers))
    return Graph(nodes, edges, kind="gossip")


def example(name: str, **placement: object) -> RunSpec:
    spec = load_topology(EXAMPLES / f"{name}.toml")
    return spec.model_copy(update={"placement": spec.placement.model_copy(update=placement)})


def test_plan_processes_puts_the_server_alone_on_node_0_and_splits_clients_in_blocks() -> None:
    spec = example("fedasync")

    plans = plan_processes(spec, spec.graph.build())

    assert [p.node_id for p in plans] == ["node-0", "node-1", "node-2"]
    assert plans[0].actors == ("server",)
    assert plans[1].actors == tuple(f"client-{i:03d}" for i in range(10))
    assert plans[2].actors == tuple(f"client-{i:03d}" for i in range(10, 20))


def test_one_process_holds_every_actor_parents_first() -> None:
    spec = example("fedasync", processes=1)

    plans = plan_processes(spec, spec.graph.build())

    assert len(plans) == 1
    assert plans[0].actors[0] == "server"
    assert len(plans[0].actors) == 21


def test_schedulers_join_the_process_holding_most_of_their_children_parents_first() -> None:
    graph = hierarchy(groups=2, per_group=4)

    plans = plan_hosts(graph, [HostSlots("h", 3)])

    assert [p.actors for p in plans] == [
        ("server",),
        ("s0", "c0", "c1", "c2", "c3"),
        ("s1", "c4", "c5", "c6", "c7"),
    ]


def test_gossip_peers_are_spread_evenly_and_the_monitor_goes_to_node_0() -> None:
    plans = plan_hosts(ring(10), [HostSlots("h", 3)])

    assert plans[0].actors[0] == MONITOR
    assert [len([a for a in p.actors if a != MONITOR]) for p in plans] == [4, 3, 3]


def test_processes_per_host_places_node_0_on_the_first_host_and_numbers_hosts_in_order() -> None:
    plans = plan_hosts(star(6), [HostSlots("alpha", 1), HostSlots("beta", 2), HostSlots("gamma", 1)])

    assert [(p.node_id, p.host, len(p.actors)) for p in plans] == [
        ("node-0", "alpha", 1),
        ("node-1", "beta", 2),
        ("node-2", "beta", 2),
        ("node-3", "gamma", 2),
    ]


def test_a_pinned_server_moves_node_0_to_its_host() -> None:
    plans = plan_hosts(star(4), [HostSlots("alpha", 1), HostSlots("beta", 1)], {"server": "beta"})

    assert (plans[0].node_id, plans[0].host, plans[0].actors) == ("node-0", "beta", ("server",))
    assert plans[1].host == "alpha"


def test_a_group_pin_takes_the_scheduler_and_its_clients_to_the_host() -> None:
    graph = hierarchy(groups=2, per_group=3)
    hosts = [HostSlots("alpha", 2), HostSlots("beta", 1)]

    plans = plan_hosts(graph, hosts, {"group:s0": "beta"})

    on_beta = [a for p in plans if p.host == "beta" for a in p.actors]
    assert on_beta == ["s0", "c0", "c1", "c2"]


def test_a_client_pinned_to_the_servers_single_process_host_shares_node_0() -> None:
    plans = plan_hosts(star(4), [HostSlots("alpha", 1), HostSlots("beta", 1)], {"c3": "alpha"})

    assert plans[0].actors == ("server", "c3")


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"c99": "alpha"}, "placement.pins.c99: pins 'c99', which is not an actor of the graph"),
        ({"group:c1": "alpha"}, "placement.pins.group:c1: a group pin names a scheduler; 'c1' is a client"),
        ({"c1": "delta"}, "placement.pins.c1: names host 'delta', which is not declared (hosts: alpha)"),
    ],
)
def test_a_bad_pin_is_refused_naming_the_pin(pins: dict[str, str], message: str) -> None:
    with pytest.raises(PlacementError) as caught:
        plan_hosts(star(2), [HostSlots("alpha", 2)], pins)

    assert str(caught.value) == message
    assert caught.value.field == next(f"placement.pins.{k}" for k in pins)


def test_an_explicit_node_map_is_taken_as_written_with_its_hosts() -> None:
    clients = [f"client-{i:03d}" for i in range(20)]
    nodes = {"node-0": ["server", *clients[:5]], "node-1": clients[5:]}
    spec = example("fedasync", nodes=nodes, hosts={"node-0": "a", "node-1": "b"})

    plans = plan_processes(spec, spec.graph.build())

    assert [(p.node_id, p.host, len(p.actors)) for p in plans] == [("node-0", "a", 6), ("node-1", "b", 15)]


def test_an_explicit_node_map_that_misses_an_actor_is_refused_when_the_file_loads() -> None:
    text = (EXAMPLES / "fedasync.toml").read_text() + 'nodes = { "node-0" = ["server"] }\n'

    with pytest.raises(TopologyFileError) as info:
        parse_topology(text)

    (problem,) = info.value.problems
    assert (problem.field, problem.line) == ("placement.nodes", text.count("\n"))
    assert problem.message.startswith("actors ['client-000'")
