"""Norm clipping (norm bounding) of client updates, then their weighted mean.

Sun, Kairouz, Suresh, McMahan, "Can You Really Backdoor Federated Learning?",
2019 (arXiv:1911.07963), Section 4: each update is scaled to
Δ_i / max(1, ‖Δ_i‖ / M), so none has an L2 norm above M, and the clipped
updates are averaged with the usual FedAvg weights.

‖Δ_i‖ is the global L2 norm over all floating tensors of the update, and
integer buffers (counters) are left unscaled, see `actors.statedict`.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.configs.aggregators import NormClipConfig
from actors.server.aggregators.base import check_updates
from actors.statedict import StateDict, global_norm, is_floating, weighted_mean


class NormClip:
    """Clip each update to norm M, then take the weighted mean."""

    def __init__(self, config: NormClipConfig) -> None:
        self.config = config

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the weighted mean of the clipped `updates`.

        Raises:
            NoUpdatesError, StateDictMismatchError, NonFiniteUpdateError,
            InvalidWeightsError: see `check_updates`.
        """
        check_updates(updates, weights)
        return weighted_mean([self.clip(u) for u in updates], weights)

    def clip(self, update: StateDict) -> StateDict:
        """Return `update` scaled by min(1, M / ‖update‖); floating tensors only."""
        norm = global_norm(update)
        if norm <= self.config.max_norm:
            return update
        factor = self.config.max_norm / norm
        return {k: t * factor if is_floating(t) else t for k, t in update.items()}
