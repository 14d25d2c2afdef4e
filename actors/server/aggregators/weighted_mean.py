"""Weighted mean of client updates: the aggregation of FedAvg.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas, "Communication-Efficient
Learning of Deep Networks from Decentralized Data", AISTATS 2017
(arXiv:1602.05629), Algorithm 1: Δ = Σ_k (n_k / n) Δ_k, with n_k the sample
count of client k and n = Σ_k n_k.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from actors.lazy import LazyModule
from actors.server.aggregators.base import (
    AggregatorSettings,
    CheckedAggregator,
    check_finite,
    check_updates,
    is_finite,
)

if TYPE_CHECKING:
    from actors import statedict
    from actors.statedict import StateDict
else:
    statedict = LazyModule("actors.statedict")  # torch at the first aggregation: the schema imports this file


class WeightedMeanConfig(AggregatorSettings):
    """The weighted mean has no parameters."""

    kind: Literal["weighted_mean"] = "weighted_mean"

    def build(self) -> WeightedMean:
        return WeightedMean(self)


class WeightedMean(CheckedAggregator[WeightedMeanConfig]):
    """Σ w_i Δ_i / Σ w_i, key by key."""

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the weighted mean of `updates`.

        Raises:
            NoUpdatesError, StateDictMismatchError, NonFiniteUpdateError,
            InvalidWeightsError: see `check_updates`.
        """
        check_updates(updates, weights, finite=False)
        result = self.combine(updates, weights)
        # A NaN or an infinity in any update (even one of weight 0: 0 * NaN is NaN)
        # reaches the mean: one check of the result instead of one per update,
        # which the server's validation has checked already.
        if not is_finite(result):
            check_finite(updates)  # names the update at fault (none: the mean overflowed)
        return result

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the weighted mean of `updates`."""
        return statedict.weighted_mean(updates, weights)
