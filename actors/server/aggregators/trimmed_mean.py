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

import torch

from actors.configs.aggregators import TrimmedMeanConfig
from actors.server.aggregators.base import check_updates
from actors.statedict import StateDict, coordinatewise


class TrimmedMean:
    """Mean of each coordinate after dropping its ⌊βn⌋ largest and smallest values."""

    def __init__(self, config: TrimmedMeanConfig) -> None:
        self.config = config

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the coordinate-wise trimmed mean of `updates` (weights are only validated).

        Raises:
            NoUpdatesError, StateDictMismatchError, NonFiniteUpdateError,
            InvalidWeightsError: see `check_updates`.
        """
        check_updates(updates, weights)
        trimmed = self.trimmed_count(len(updates))
        return coordinatewise(updates, lambda stacked: _trimmed_mean(stacked, trimmed))

    def trimmed_count(self, n: int) -> int:
        """Return ⌊βn⌋, the number of values dropped at each end of a coordinate."""
        return math.floor(Fraction(repr(self.config.trim_fraction)) * n)


def _trimmed_mean(stacked: torch.Tensor, trimmed: int) -> torch.Tensor:
    ordered = stacked.sort(dim=0).values
    # β < 1/2 keeps at least one value: 2⌊βn⌋ ≤ 2βn < n.
    return ordered[trimmed : ordered.shape[0] - trimmed].mean(dim=0)
