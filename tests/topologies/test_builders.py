import re

import pytest
from pydantic import ValidationError

from tests.topologies.graph_helpers import built, graph_spec
from topologies.builders import star
from topologies.errors import GraphSamplingError
from topologies.graph import Graph
from topologies.graph_specs import GRAPH_SPECS, StarGraphSpec


def _degrees(graph: Graph) -> set[int]:
    return {graph.degree(n.id) for n in graph.nodes}


def test_every_template_of_the_graph_spec_union_is_registered_by_its_name() -> None:
    assert set(GRAPH_SPECS) == {
        "star",
        "hierarchy",
        "ring",
        "torus",
        "complete",
        "random_regular",
        "erdos_renyi",
        "small_world",
        "explicit",
    }


def test_star_keeps_its_server_and_zero_padded_client_ids() -> None:
    graph = built('template = "star"\nclients = 3')

    assert [n.id for n in graph.nodes] == ["server", "client-000", "client-001", "client-002"]
    assert [(e.source, e.target) for e in graph.edges] == [("server", f"client-00{i}") for i in range(3)]
    assert graph.kind == "tree"
    assert graph.depth() == 1
    assert graph.parent_of("client-002") == "server"
    assert graph.node("client-001").index == 1


def test_the_star_spec_builds_the_star_its_plain_builder_makes() -> None:
    spec = graph_spec('template = "star"\nclients = 5')

    assert GRAPH_SPECS["star"] is StarGraphSpec
    assert spec.build() == star(5)


def test_hierarchy_levels_spread_forty_clients_evenly_under_four_schedulers() -> None:
    graph = built('template = "hierarchy"\nlevels = [1, 4, 40]')

    assert [n.id for n in graph.of_role("scheduler")] == ["sched-0", "sched-1", "sched-2", "sched-3"]
    assert graph.count("client") == 40
    assert len(graph.edges) == 44
    assert graph.children_of("server") == ["sched-0", "sched-1", "sched-2", "sched-3"]
    assert [len(graph.children_of(f"sched-{i}")) for i in range(4)] == [10, 10, 10, 10]
    assert graph.children_of("sched-1")[0] == "client-010"
    assert graph.parent_of("client-039") == "sched-3"
    assert graph.depth() == 2


def test_deeper_hierarchy_levels_name_schedulers_by_their_path() -> None:
    graph = built('template = "hierarchy"\nlevels = [1, 2, 4, 16]')

    assert [n.id for n in graph.of_role("scheduler")] == [
        "sched-0",
        "sched-1",
        "sched-0-0",
        "sched-0-1",
        "sched-1-0",
        "sched-1-1",
    ]
    assert [n.index for n in graph.of_role("scheduler")] == list(range(6))
    assert graph.parent_of("sched-1-0") == "sched-1"
    assert graph.children_of("sched-1-1") == ["client-012", "client-013", "client-014", "client-015"]
    assert graph.depth() == 3


def test_hierarchy_levels_that_do_not_divide_give_the_first_parents_one_more() -> None:
    graph = built('template = "hierarchy"\nlevels = [1, 3, 10]')

    assert [len(graph.children_of(f"sched-{i}")) for i in range(3)] == [4, 3, 3]


def test_hierarchy_groups_set_each_schedulers_client_count() -> None:
    graph = built('template = "hierarchy"\ngroups = [10, 12, 8]')

    assert [len(graph.children_of(f"sched-{i}")) for i in range(3)] == [10, 12, 8]
    assert graph.children_of("sched-2")[-1] == "client-029"
    assert graph.depth() == 2


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            "levels = [1, 4]\ngroups = [2, 2]",
            "give levels (e.g. [1, 4, 40]) or groups (e.g. [10, 12, 8]), exactly one",
        ),
        ("levels = [2, 4, 40]", "levels[0] counts servers and must be 1, got 2"),
        (
            "levels = [1, 4, 3]",
            "levels[2] (3) is smaller than levels[1] (4); every node of a level needs a child",
        ),
    ],
)
def test_hierarchy_shapes_that_cannot_be_built_are_refused(toml: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        graph_spec(f'template = "hierarchy"\n{toml}')


def test_ring_links_each_peer_to_the_next_with_source_below_target() -> None:
    graph = built('template = "ring"\npeers = 5')

    assert [n.id for n in graph.nodes] == [f"peer-00{i}" for i in range(5)]
    assert len(graph.edges) == 5
    assert _degrees(graph) == {2}
    assert all(e.source < e.target for e in graph.edges)
    assert ("peer-000", "peer-004") in {(e.source, e.target) for e in graph.edges}
    assert graph.kind == "gossip"
    assert graph.is_connected()


def test_torus_wraps_rows_and_columns_so_every_peer_has_four_neighbours() -> None:
    graph = built('template = "torus"\nrows = 3\ncols = 4')

    assert len(graph.nodes) == 12
    assert len(graph.edges) == 24
    assert _degrees(graph) == {4}
    assert sorted(graph.neighbours("peer-000")) == ["peer-001", "peer-003", "peer-004", "peer-008"]


def test_complete_links_every_pair_once() -> None:
    graph = built('template = "complete"\npeers = 6')

    assert len(graph.edges) == 15
    assert _degrees(graph) == {5}


def test_random_regular_gives_every_peer_its_degree_and_is_connected_and_seeded() -> None:
    toml = 'template = "random_regular"\npeers = 30\ndegree = 3\nseed = {seed}'

    graph = built(toml.format(seed=1))

    assert _degrees(graph) == {3}
    assert len(graph.edges) == 45
    assert graph.is_connected()
    assert graph == built(toml.format(seed=1))
    assert graph != built(toml.format(seed=2))


def test_random_regular_refuses_an_odd_number_of_edge_ends() -> None:
    with pytest.raises(ValidationError, match=r"degree × peers must be even .* got 3 × 7"):
        graph_spec('template = "random_regular"\npeers = 7\ndegree = 3')


def test_erdos_renyi_is_redrawn_until_connected_and_seeded() -> None:
    toml = 'template = "erdos_renyi"\npeers = 40\np = 0.1\nseed = 4'

    graph = built(toml)

    assert graph.is_connected()
    assert graph == built(toml)


def test_erdos_renyi_below_the_connectivity_threshold_gives_up_saying_how_to_fix_it() -> None:
    with pytest.raises(GraphSamplingError, match=r"no connected graph in 100 draws; raise p above") as caught:
        built('template = "erdos_renyi"\npeers = 100\np = 0.01')

    assert caught.value.attempts == 100


def test_small_world_keeps_the_lattice_edge_count_and_is_connected() -> None:
    graph = built('template = "small_world"\npeers = 40\nk = 4\np = 0.3\nseed = 2')
    lattice = built('template = "small_world"\npeers = 40\nk = 4\np = 0.0')

    assert len(graph.edges) == 80
    assert graph.is_connected()
    assert _degrees(graph) != {4}  # some edges were rewired
    assert _degrees(lattice) == {4}


def test_small_world_needs_an_even_k_below_peers() -> None:
    with pytest.raises(ValidationError, match="k must be even and below peers"):
        graph_spec('template = "small_world"\npeers = 10\nk = 3\np = 0.1')


@pytest.mark.parametrize(
    "toml",
    [
        'template = "star"\nclients = 7',
        'template = "hierarchy"\nlevels = [1, 2, 9]',
        'template = "hierarchy"\ngroups = [3, 4]',
        'template = "ring"\npeers = 9',
        'template = "torus"\nrows = 3\ncols = 5',
        'template = "complete"\npeers = 4',
        'template = "random_regular"\npeers = 8\ndegree = 3',
        'template = "erdos_renyi"\npeers = 12\np = 0.5',
        'template = "small_world"\npeers = 12\nk = 4\np = 0.2',
        'template = "explicit"\nnodes = [{ group = "p", role = "peer", count = 3 }]\n'
        'edges = [{ source = "p-0", target = "p-1" }, { source = "p-1", target = "p-2" }]',
    ],
)
def test_a_spec_counts_its_learners_without_building_as_the_graph_does(toml: str) -> None:
    spec = graph_spec(toml)

    assert spec.learner_count() == len(spec.build().learners())
