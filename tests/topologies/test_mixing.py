import re
from pathlib import Path

import numpy as np
import pytest

from tests.topologies.graph_helpers import built, graph_spec
from topologies.errors import MixingError, NotDoublyStochasticError
from topologies.mixing import (
    check_doubly_stochastic,
    metropolis_hastings,
    neighbour_weights,
    spectral_gap,
    uniform_neighbour,
)

PATH_OF_THREE = (
    'template = "explicit"\nnodes = [{ id = "a", role = "peer" }, { id = "b", role = "peer" }, '
    '{ id = "c", role = "peer" }]\nedges = [{ source = "a", target = "b" }, { source = "b", target = "c" }]'
)
STAR_OF_FOUR = (
    'template = "explicit"\n'
    'nodes = [{ id = "hub", role = "peer" }, { group = "leaf", role = "peer", count = 3 }]\n'
    'edges = [{ source = "hub", target_group = "leaf" }]'
)


def test_metropolis_hastings_on_a_three_node_path_matches_the_hand_computed_matrix() -> None:
    # degrees 1, 2, 1: each edge gets 1/(1 + 2) = 1/3; the ends keep 2/3, the middle 1/3.
    expected = np.array(
        [
            [2 / 3, 1 / 3, 0],
            [1 / 3, 1 / 3, 1 / 3],
            [0, 1 / 3, 2 / 3],
        ]
    )

    w = metropolis_hastings(built(PATH_OF_THREE))

    np.testing.assert_allclose(w, expected, atol=1e-12)
    check_doubly_stochastic(w)


def test_metropolis_hastings_on_a_four_node_star_matches_the_hand_computed_matrix() -> None:
    # hub degree 3, leaves 1: each edge gets 1/(1 + 3) = 1/4; the hub keeps 1/4, each leaf 3/4.
    expected = np.array(
        [
            [1 / 4, 1 / 4, 1 / 4, 1 / 4],
            [1 / 4, 3 / 4, 0, 0],
            [1 / 4, 0, 3 / 4, 0],
            [1 / 4, 0, 0, 3 / 4],
        ]
    )

    w = metropolis_hastings(built(STAR_OF_FOUR))

    np.testing.assert_allclose(w, expected, atol=1e-12)
    check_doubly_stochastic(w)


def test_metropolis_hastings_on_a_random_graph_is_symmetric_doubly_stochastic_and_follows_the_degrees() -> (
    None
):
    graph = built('template = "erdos_renyi"\npeers = 30\np = 0.2\nseed = 7')
    index = {n.id: i for i, n in enumerate(graph.nodes)}

    w = metropolis_hastings(graph)

    np.testing.assert_allclose(w, w.T)
    check_doubly_stochastic(w)
    assert (w >= 0).all()
    for edge in graph.edges:
        expected = 1 / (1 + max(graph.degree(edge.source), graph.degree(edge.target)))
        assert w[index[edge.source], index[edge.target]] == pytest.approx(expected)
    assert np.count_nonzero(w - np.diag(np.diag(w))) == 2 * len(graph.edges)


def test_uniform_weights_on_a_star_are_row_stochastic_and_reported_not_doubly_stochastic() -> None:
    graph = built(STAR_OF_FOUR)
    w = uniform_neighbour(graph)

    with pytest.raises(
        NotDoublyStochasticError, match=r"column 0 \('hub'\) sums to 1\.75, expected 1"
    ) as caught:
        check_doubly_stochastic(w, ids=[n.id for n in graph.nodes])

    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert (caught.value.axis, caught.value.index) == ("column", 0)
    assert caught.value.total == pytest.approx(1.75)


def test_uniform_weights_on_a_regular_graph_are_doubly_stochastic() -> None:
    check_doubly_stochastic(uniform_neighbour(built('template = "torus"\nrows = 3\ncols = 3')))


def test_a_negative_entry_is_not_doubly_stochastic() -> None:
    w = np.array([[1.5, -0.5], [-0.5, 1.5]])

    with pytest.raises(MixingError, match=r"entry \[0\]\[1\] is negative"):
        check_doubly_stochastic(w)


def test_the_complete_graph_with_uniform_weights_has_spectral_gap_one() -> None:
    spec = graph_spec('template = "complete"\npeers = 8\nmixing = { kind = "uniform" }')

    w = spec.mixing_matrix()

    assert w is not None
    np.testing.assert_allclose(w, np.full((8, 8), 1 / 8))
    assert spectral_gap(w) == pytest.approx(1.0)


def test_a_ring_mixes_more_slowly_than_a_torus_of_the_same_size() -> None:
    ring = metropolis_hastings(built('template = "ring"\npeers = 16'))
    torus = metropolis_hastings(built('template = "torus"\nrows = 4\ncols = 4'))

    # Ring, degree 2: W = (I + A)/3, |λ₂| = (1 + 2cos(2π/16))/3.
    assert spectral_gap(ring) == pytest.approx(1 - (1 + 2 * np.cos(2 * np.pi / 16)) / 3)
    assert spectral_gap(ring) < spectral_gap(torus)


def test_gossip_templates_default_to_metropolis_hastings_and_trees_have_no_mixing() -> None:
    ring = graph_spec('template = "ring"\npeers = 5')
    star = graph_spec('template = "star"\nclients = 5')

    w = ring.mixing_matrix()

    assert w is not None
    np.testing.assert_allclose(w, metropolis_hastings(ring.build()))
    assert star.mixing_matrix() is None


def test_a_given_matrix_is_used_as_written() -> None:
    spec = graph_spec(
        PATH_OF_THREE
        + '\nmixing = { kind = "given", matrix = [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]] }'
    )

    w = spec.mixing_matrix()

    assert w is not None
    np.testing.assert_allclose(w, [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    assert neighbour_weights(spec.build(), w, "b") == {"b": 0.0, "a": 0.5, "c": 0.5}


@pytest.mark.parametrize(
    ("matrix", "error", "message"),
    [
        (
            "[[1, 0], [0, 1]]",
            MixingError,
            "mixing.matrix must be 3×3 (a row and a column per node, in node order), got 2 rows",
        ),
        (
            "[[0.5, 0, 0.5], [0, 0.5, 0.5], [0.5, 0.5, 0]]",
            MixingError,
            "mixing.matrix[0][2] is 0.5 but 'a' and 'c' share no edge",
        ),
        (
            "[[0.5, 0.5, 0], [0.5, 0.5, 0.5], [0, 0.5, 0.5]]",
            NotDoublyStochasticError,
            "row 1 ('b') sums to 1.5",
        ),
        (
            "[[1.5, -0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]",
            MixingError,
            "mixing.matrix[0][1] is negative (-0.5)",
        ),
    ],
)
def test_a_given_matrix_that_does_not_fit_the_graph_is_refused(
    matrix: str, error: type[Exception], message: str
) -> None:
    spec = graph_spec(PATH_OF_THREE + f'\nmixing = {{ kind = "given", matrix = {matrix} }}')

    with pytest.raises(error, match=re.escape(message)):
        spec.build()


def test_given_mixing_without_a_matrix_takes_each_edges_weight_from_the_csv(tmp_path: Path) -> None:
    csv = tmp_path / "edges.csv"
    csv.write_text("source,target,weight\na,b,0.25\nb,c,0.5\n")
    nodes = PATH_OF_THREE.split("\nedges")[0]
    spec = graph_spec(nodes + f'\nedges_csv = "{csv}"\nmixing = {{ kind = "given" }}')

    w = spec.mixing_matrix()

    assert w is not None
    np.testing.assert_allclose(w, [[0.75, 0.25, 0], [0.25, 0.25, 0.5], [0, 0.5, 0.5]])
    check_doubly_stochastic(w)


def test_given_mixing_without_a_matrix_needs_a_weight_on_every_edge() -> None:
    spec = graph_spec('template = "ring"\npeers = 4\nmixing = { kind = "given" }')

    with pytest.raises(MixingError, match="edge 'peer-000'—'peer-001' has no weight"):
        spec.build()
