"""Coordinate-wise trimmed mean of client updates.

Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust Distributed Learning:
Towards Optimal Statistical Rates", ICML 2018 (arXiv:1803.01498),
Definition 2: for each coordinate, drop the ⌊βn⌋ largest and the ⌊βn⌋
smallest of the n values and average the rest, with β ∈ [0, 1/2).

⌊βn⌋ is computed on the decimal that was written (β = 0.29 with n = 100
trims 29 on each side, although 0.29 · 100 is 28.999… in binary floats).
As in the paper every update has one vote: the weights are validated but do
not enter the mean.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.lazy import LazyModule
from actors.server.aggregators.base import AggregatorSettings, CheckedAggregator

if TYPE_CHECKING:
    import torch

    from actors import statedict
    from actors.statedict import StateDict
else:
    statedict = LazyModule("actors.statedict")  # torch at the first aggregation: the schema imports this file


class TrimmedMeanConfig(AggregatorSettings):
    """`trim_fraction` is β: the share of updates dropped at each end, per coordinate.

    It has no default: it states how many Byzantine clients you assume.
    """

    kind: Literal["trimmed_mean"] = "trimmed_mean"
    trim_fraction: float = Field(ge=0, lt=0.5)

    def build(self) -> TrimmedMean:
        return TrimmedMean(self)


class TrimmedMean(CheckedAggregator[TrimmedMeanConfig]):
    """Mean of each coordinate after dropping its ⌊βn⌋ largest and smallest values."""

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the coordinate-wise trimmed mean of `updates` (weights are only validated)."""
        trimmed = self.trimmed_count(len(updates))
        return statedict.coordinatewise(updates, lambda stacked: _trimmed_mean(stacked, trimmed))

    def trimmed_count(self, n: int) -> int:
        """Return ⌊βn⌋, the number of values dropped at each end of a coordinate."""
        return math.floor(Fraction(repr(self.config.trim_fraction)) * n)


def _trimmed_mean(stacked: torch.Tensor, trimmed: int) -> torch.Tensor:
    ordered = stacked.sort(dim=0).values
    # β < 1/2 keeps at least one value: 2⌊βn⌋ ≤ 2βn < n.
    return ordered[trimmed : ordered.shape[0] - trimmed].mean(dim=0)
