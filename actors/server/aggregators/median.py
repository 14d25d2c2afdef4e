"""Coordinate-wise median of client updates.

Yin, Chen, Ramchandran, Bartlett, "Byzantine-Robust Distributed Learning:
Towards Optimal Statistical Rates", ICML 2018 (arXiv:1803.01498),
Definition 1: each coordinate of the aggregate is the median of that
coordinate over the updates. With an even number of updates the median is the
mean of the two middle values (not `torch.median`'s lower one), so the result
does not depend on the order of the clients.

The weights are validated but do not enter the median: as in the paper every
update has one vote, so a client cannot buy influence by claiming a large
sample count.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from actors.configs.aggregators import MedianConfig
from actors.server.aggregators.base import check_updates
from actors.statedict import StateDict, coordinatewise


class CoordinateMedian:
    """Median of each coordinate over the updates."""

    def __init__(self, config: MedianConfig) -> None:
        self.config = config

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the coordinate-wise median of `updates` (weights are only validated).

        Raises:
            NoUpdatesError, StateDictMismatchError, NonFiniteUpdateError,
            InvalidWeightsError: see `check_updates`.
        """
        check_updates(updates, weights)
        return coordinatewise(updates, _median)


def _median(stacked: torch.Tensor) -> torch.Tensor:
    ordered = stacked.sort(dim=0).values
    n = ordered.shape[0]
    if n % 2 == 1:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2
