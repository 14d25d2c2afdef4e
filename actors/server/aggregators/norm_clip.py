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
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.lazy import LazyModule
from actors.server.aggregators.base import AggregatorSettings, CheckedAggregator

if TYPE_CHECKING:
    from actors import statedict
    from actors.statedict import StateDict
else:
    statedict = LazyModule("actors.statedict")  # torch at the first aggregation: the schema imports this file


class NormClipConfig(AggregatorSettings):
    """`max_norm` is M, the largest global L2 norm an update keeps."""

    kind: Literal["norm_clip"] = "norm_clip"
    max_norm: float = Field(gt=0)

    def build(self) -> NormClip:
        return NormClip(self)


class NormClip(CheckedAggregator[NormClipConfig]):
    """Clip each update to norm M, then take the weighted mean."""

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the weighted mean of the clipped `updates`."""
        return statedict.weighted_mean([self.clip(u) for u in updates], weights)

    def clip(self, update: StateDict) -> StateDict:
        """Return `update` scaled by min(1, M / ‖update‖); floating tensors only."""
        norm = statedict.global_norm(update)
        if norm <= self.config.max_norm:
            return update
        factor = self.config.max_norm / norm
        return {k: t * factor if statedict.is_floating(t) else t for k, t in update.items()}
