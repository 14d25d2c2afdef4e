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
from typing import TYPE_CHECKING, Literal

from actors.lazy import LazyModule
from actors.server.aggregators.base import AggregatorSettings, CheckedAggregator

if TYPE_CHECKING:
    import torch

    from actors import statedict
    from actors.statedict import StateDict
else:
    statedict = LazyModule("actors.statedict")  # torch at the first aggregation: the schema imports this file


class MedianConfig(AggregatorSettings):
    """The coordinate-wise median has no parameters."""

    kind: Literal["median"] = "median"

    def build(self) -> CoordinateMedian:
        return CoordinateMedian(self)


class CoordinateMedian(CheckedAggregator[MedianConfig]):
    """Median of each coordinate over the updates."""

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the coordinate-wise median of `updates` (weights are only validated)."""
        return statedict.coordinatewise(updates, _median)


def _median(stacked: torch.Tensor) -> torch.Tensor:
    ordered = stacked.sort(dim=0).values
    n = ordered.shape[0]
    if n % 2 == 1:
        return ordered[n // 2]
    return (ordered[n // 2 - 1] + ordered[n // 2]) / 2
