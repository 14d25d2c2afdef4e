"""Gossip mixing matrices: who averages with whom, and with what weight.

A peer's new model is `x_i ← Σ_j W_ij x_j`, over itself and its neighbours.
D-PSGD (Lian et al. 2017) needs `W` symmetric and doubly stochastic for the
peers to agree on the average; how fast they agree is set by the spectral gap
`1 − |λ₂(W)|` (Boyd, Ghosh, Prabhakar, Shah 2006, "Randomized gossip algorithms").

- `metropolis_hastings`: `W_ij = 1 / (1 + max(d_i, d_j))` on edges,
  `W_ii = 1 − Σ_j W_ij` (Xiao & Boyd 2004): symmetric and doubly stochastic
  on every graph, from each peer's and its neighbours' degrees alone.
- `uniform`: `W_ij = 1 / (d_i + 1)` for `j` in `N(i) ∪ {i}`: row-stochastic,
  but doubly stochastic only on regular graphs (on a star the hub's column
  sums to far more than 1, so the hub's model dominates the consensus).
- `given`: a matrix from the file, or each edge's `weight` (symmetric, with
  self-weights `1 − Σ`).

Matrices are numpy float64, rows and columns in `graph.nodes` order. The
`mixing` field of a gossip `[graph]` table (`MixingSpec`) chooses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from topologies.errors import MixingError, NotDoublyStochasticError
from topologies.graph import Graph


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


#: Tolerance on the row sums of a hand-written matrix: three entries typed as
#: 0.333333 sum to 0.999999, and that is what the user meant.
GIVEN_TOLERANCE = 1e-5


def mixing_matrix(graph: Graph, spec: MixingSpec) -> np.ndarray:
    """The matrix `spec` asks for on `graph`.

    Raises:
        MixingError: `given` weights do not fit the graph (see `given_matrix`, `edge_weight_matrix`).
    """
    if spec.kind == "metropolis_hastings":
        return metropolis_hastings(graph)
    if spec.kind == "uniform":
        return uniform_neighbour(graph)
    if spec.matrix is not None:
        return given_matrix(graph, spec.matrix)
    return edge_weight_matrix(graph)


def metropolis_hastings(graph: Graph) -> np.ndarray:
    """`W_ij = 1 / (1 + max(d_i, d_j))` on edges, `W_ii = 1 − Σ_j W_ij`."""
    index = _index(graph)
    w = np.zeros((len(index), len(index)))
    for edge in graph.edges:
        i, j = index[edge.source], index[edge.target]
        w[i, j] = w[j, i] = 1.0 / (1 + max(graph.degree(edge.source), graph.degree(edge.target)))
    np.fill_diagonal(w, 1.0 - w.sum(axis=1))
    return w


def uniform_neighbour(graph: Graph) -> np.ndarray:
    """`W_ij = 1 / (d_i + 1)` for `j` in `N(i) ∪ {i}` (row-stochastic)."""
    index = _index(graph)
    w = np.zeros((len(index), len(index)))
    for node in graph.nodes:
        i = index[node.id]
        share = 1.0 / (graph.degree(node.id) + 1)
        w[i, i] = share
        for other in graph.neighbours(node.id):
            w[i, index[other]] = share
    return w


def given_matrix(graph: Graph, rows: Sequence[Sequence[float]]) -> np.ndarray:
    """A matrix from the file, checked against the graph.

    Raises:
        MixingError: wrong shape, a negative entry, or a non-zero weight between
            peers that share no edge.
        NotDoublyStochasticError: a row does not sum to 1 (within `GIVEN_TOLERANCE`).
    """
    n = len(graph.nodes)
    if len(rows) != n or any(len(row) != n for row in rows):
        shape = f"{len(rows)} rows of " + "/".join(sorted({str(len(r)) for r in rows}) or ["0"])
        raise MixingError(
            f"mixing.matrix must be {n}×{n} (a row and a column per node, in node order), got {shape}"
        )
    w = np.asarray(rows, dtype=np.float64)
    ids = [node.id for node in graph.nodes]
    linked = {(e.source, e.target) for e in graph.edges} | {(e.target, e.source) for e in graph.edges}
    for i, j in zip(*np.nonzero(w), strict=True):
        if w[i, j] < 0:
            raise MixingError(f"mixing.matrix[{i}][{j}] is negative ({w[i, j]:g}); weights must be ≥ 0")
        if i != j and (ids[i], ids[j]) not in linked:
            raise MixingError(
                f"mixing.matrix[{i}][{j}] is {w[i, j]:g} but {ids[i]!r} and {ids[j]!r} share no edge; "
                "weights may be non-zero only between neighbours"
            )
    _check_sums(w, 1, GIVEN_TOLERANCE, ids)
    return w


def edge_weight_matrix(graph: Graph) -> np.ndarray:
    """Symmetric weights from each edge's `weight` attribute; self-weights take the rest.

    Raises:
        MixingError: an edge has no weight, or a node's edge weights sum to more than 1.
    """
    index = _index(graph)
    w = np.zeros((len(index), len(index)))
    for edge in graph.edges:
        if "weight" not in edge.attrs:
            raise MixingError(
                f"edge {edge.source!r}—{edge.target!r} has no weight; mixing kind 'given' needs "
                "mixing.matrix or a weight on every edge"
            )
        i, j = index[edge.source], index[edge.target]
        w[i, j] = w[j, i] = float(edge.attrs["weight"])
    for node in graph.nodes:
        total = w[index[node.id]].sum()
        if total > 1 + GIVEN_TOLERANCE:
            raise MixingError(
                f"the edge weights of {node.id!r} sum to {total:.6g} > 1, leaving it a negative self-weight"
            )
    np.fill_diagonal(w, np.clip(1.0 - w.sum(axis=1), 0.0, None))
    return w


def check_doubly_stochastic(w: np.ndarray, tol: float = 1e-9, ids: Sequence[str] | None = None) -> None:
    """Check that `w` is non-negative and every row and every column sums to 1 (within `tol`).

    Args:
        ids: node ids in row order, named in the message when given.

    Raises:
        MixingError: an entry is negative.
        NotDoublyStochasticError: a row or a column does not sum to 1; names the first.
    """
    negative = np.argwhere(w < -tol)
    if negative.size:
        i, j = negative[0]
        raise MixingError(f"mixing matrix entry [{i}][{j}] is negative ({w[i, j]:g})")
    _check_sums(w, 1, tol, ids)
    _check_sums(w, 0, tol, ids)


def is_doubly_stochastic(w: np.ndarray, tol: float = 1e-9) -> bool:
    """Whether `check_doubly_stochastic` passes."""
    try:
        check_doubly_stochastic(w, tol)
    except MixingError:
        return False
    return True


def spectral_gap(w: np.ndarray) -> float:
    """`1 − |λ₂|`, where `|λ₂|` is the second largest eigenvalue modulus of `w` (1 for one node)."""
    if w.shape[0] < 2:
        return 1.0
    eigenvalues = np.linalg.eigvalsh(w) if np.allclose(w, w.T) else np.linalg.eigvals(w)
    moduli = np.sort(np.abs(eigenvalues))[::-1]
    return float(1.0 - moduli[1])


def neighbour_weights(graph: Graph, w: np.ndarray, node_id: str) -> dict[str, float]:
    """Row `node_id` of `w` as `{node id: weight}` over the node itself and its neighbours."""
    index = _index(graph)
    row = w[index[node_id]]
    return {other: float(row[index[other]]) for other in [node_id, *graph.neighbours(node_id)]}


def _index(graph: Graph) -> dict[str, int]:
    return {node.id: i for i, node in enumerate(graph.nodes)}


def _check_sums(w: np.ndarray, axis: int, tol: float, ids: Sequence[str] | None) -> None:
    sums = w.sum(axis=axis)
    bad = np.flatnonzero(np.abs(sums - 1.0) > tol)
    if bad.size:
        k = int(bad[0])
        label = f" ({ids[k]!r})" if ids is not None else ""
        raise NotDoublyStochasticError("row" if axis == 1 else "column", k, float(sums[k]), label, tol)
