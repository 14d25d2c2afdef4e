"""Weighted mean of client updates: the aggregation of FedAvg.

McMahan, Moore, Ramage, Hampson, Agüera y Arcas, "Communication-Efficient
Learning of Deep Networks from Decentralized Data", AISTATS 2017
(arXiv:1602.05629), Algorithm 1: Δ = Σ_k (n_k / n) Δ_k, with n_k the sample
count of client k and n = Σ_k n_k.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.configs.aggregators import WeightedMeanConfig
from actors.server.aggregators.base import check_finite, check_updates, is_finite
from actors.statedict import StateDict, weighted_mean


class WeightedMean:
    """Σ w_i Δ_i / Σ w_i, key by key."""

    def __init__(self, config: WeightedMeanConfig) -> None:
        self.config = config

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the weighted mean of `updates`.

        Raises:
            NoUpdatesError, StateDictMismatchError, NonFiniteUpdateError,
            InvalidWeightsError: see `check_updates`.
        """
        check_updates(updates, weights, finite=False)
        result = weighted_mean(updates, weights)
        # A NaN or an infinity in any update (even one of weight 0: 0 * NaN is NaN)
        # reaches the mean: one check of the result instead of one per update,
        # which the server's validation has checked already.
        if not is_finite(result):
            check_finite(updates)  # names the update at fault (none: the mean overflowed)
        return result
