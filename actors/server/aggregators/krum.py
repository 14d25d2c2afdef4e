"""Krum and Multi-Krum.

Blanchard, El Mhamdi, Guerraoui, Stainer, "Machine Learning with Adversaries:
Byzantine Tolerant Gradient Descent", NeurIPS 2017, Section 4. With n updates
of which at most f are Byzantine, the score of update i is

    score(i) = Σ_{i→j} ‖Δ_i - Δ_j‖²

over the n - f - 2 updates j ≠ i closest to Δ_i. Krum returns the update of
least score; Multi-Krum returns the plain mean of the m updates of least
score. The paper requires n ≥ 2f + 3 (so that n - f - 2 > f).

Choices where the paper is silent:
    * Distances are over floating tensors only, in float64; integer buffers
      (counters) do not count, see `actors.statedict`.
    * Equal scores are broken by comparing the updates' values
      lexicographically, so the result does not depend on client order.
    * The weights are validated but unused, as in the paper (one vote per
      update). Multi-Krum's `m` defaults to n - f.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.lazy import LazyModule
from actors.server.aggregators.base import AggregatorSettings, CheckedAggregator
from actors.server.errors import TooFewUpdatesError

if TYPE_CHECKING:
    import torch

    from actors import statedict
    from actors.statedict import StateDict
else:
    torch = LazyModule("torch")  # at the first aggregation: the schema imports this file's settings
    statedict = LazyModule("actors.statedict")


class KrumConfig(AggregatorSettings):
    """`byzantine` is f, the most Byzantine updates tolerated in one aggregation (no default)."""

    kind: Literal["krum"] = "krum"
    byzantine: int = Field(ge=0)

    def build(self) -> Krum:
        return Krum(self)

    def least_updates(self) -> tuple[int, str]:
        return 2 * self.byzantine + 3, f"n >= 2f + 3 with byzantine f = {self.byzantine}"


class MultiKrumConfig(AggregatorSettings):
    """Krum's f, and `m`, how many of the best-scored updates are averaged (None: n - f)."""

    kind: Literal["multi_krum"] = "multi_krum"
    byzantine: int = Field(ge=0)
    m: int | None = Field(default=None, ge=1)

    def build(self) -> MultiKrum:
        return MultiKrum(self)

    def least_updates(self) -> tuple[int, str]:
        f = self.byzantine
        rule = f"n >= 2f + 3 with byzantine f = {f}"
        if self.m is not None and self.m > 2 * f + 3:
            return self.m, f"{rule}, and n >= m = {self.m}"
        return 2 * f + 3, rule


class Krum(CheckedAggregator[KrumConfig]):
    """Return the single update closest to its n - f - 2 nearest neighbours."""

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return (a copy of) the update of least Krum score.

        Raises:
            TooFewUpdatesError: fewer than 2f + 3 updates.
        """
        _check_count("krum", len(updates), self.config.byzantine, required=1)
        best = rank_by_score(updates, self.config.byzantine)[0]
        return statedict.clone(updates[best])


class MultiKrum(CheckedAggregator[MultiKrumConfig]):
    """Return the mean of the m updates of least Krum score."""

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the unweighted mean of the m best-scored updates.

        Raises:
            TooFewUpdatesError: fewer than 2f + 3 updates, or fewer than m.
        """
        f = self.config.byzantine
        m = len(updates) - f if self.config.m is None else self.config.m
        _check_count("multi_krum", len(updates), f, required=m)
        selected = rank_by_score(updates, f)[:m]
        return statedict.mean([updates[i] for i in selected])


def _check_count(aggregator: str, n: int, f: int, required: int) -> None:
    if n < 2 * f + 3:
        reason = f"n >= 2f + 3 with byzantine f = {f}"
        raise TooFewUpdatesError(aggregator, 2 * f + 3, n, reason)
    if n < required:
        raise TooFewUpdatesError(aggregator, required, n, f"m = {required} are averaged")


def rank_by_score(updates: Sequence[StateDict], byzantine: int) -> list[int]:
    """Return the indices of `updates`, best (least) Krum score first.

    Raises nothing: callers have checked that n >= 2f + 3.
    """
    scores = krum_scores(updates, byzantine)
    values = functools.cache(lambda i: statedict.flatten(updates[i], torch.float64))

    def compare(i: int, j: int) -> int:
        if scores[i] != scores[j]:
            return -1 if scores[i] < scores[j] else 1
        return _compare_lexicographically(values(i), values(j))

    return sorted(range(len(updates)), key=functools.cmp_to_key(compare))


def _compare_lexicographically(a: torch.Tensor, b: torch.Tensor) -> int:
    differing = (a != b).nonzero()
    if differing.numel() == 0:
        return 0
    first = differing[0, 0]
    return -1 if a[first] < b[first] else 1


def krum_scores(updates: Sequence[StateDict], byzantine: int) -> list[float]:
    """Return score(i): the sum of squared distances to the n - f - 2 nearest other updates."""
    neighbours = len(updates) - byzantine - 2
    distances = pairwise_squared_distances(updates)
    # Row i sorted: its first entry is the distance 0 of i to itself.
    nearest = distances.sort(dim=1).values[:, 1 : neighbours + 1]
    return nearest.sum(dim=1).tolist()


def pairwise_squared_distances(updates: Sequence[StateDict]) -> torch.Tensor:
    """Return the (n, n) float64 matrix of ‖Δ_i - Δ_j‖² over floating tensors."""
    n = len(updates)
    distances = torch.zeros(n, n, dtype=torch.float64)
    for key, tensor in updates[0].items():
        if not statedict.is_floating(tensor):
            continue
        rows = torch.stack([u[key].reshape(-1).to(torch.float64) for u in updates])
        # One row at a time keeps memory at n x numel instead of n² x numel.
        for i in range(n):
            distances[i] += (rows - rows[i]).pow(2).sum(dim=1)
    return distances
