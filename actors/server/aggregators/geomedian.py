"""Geometric median of client updates (RFA), by the smoothed Weiszfeld algorithm.

Pillutla, Kakade, Harchaoui, "Robust Aggregation for Federated Learning",
IEEE Transactions on Signal Processing 70, 2022 (arXiv:1912.13445). RFA
replaces the weighted mean by the weighted geometric median

    v* = argmin_v Σ_i α_i ‖v - w_i‖,    α_i = n_i / Σ_j n_j,

which a minority of arbitrarily bad updates cannot drag far (breakdown point
1/2). The paper's Algorithm 2 (smoothed Weiszfeld) approximates it: from v⁰,

    β_i = α_i / max(ν, ‖v^r - w_i‖)
    v^{r+1} = Σ_i β_i w_i / Σ_i β_i

where ν > 0 keeps a weight finite when the iterate reaches an update.

Choices where the paper is silent or leaves a free parameter:
    * v⁰ is the weighted mean (the paper allows any start).
    * It stops after `max_iterations` steps, or earlier once a step lowers
      Σ α_i ‖v - w_i‖ by no more than `ftol` times its new value.
    * Distances are over floating tensors only, in float64 (integer buffers,
      counters, do not count: see `actors.statedict`). The result is
      Σ β_i w_i / Σ β_i with the last step's β for every tensor, so a counter
      comes out as the same weighted mean, rounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.lazy import LazyModule
from actors.server.aggregators.base import AggregatorSettings, CheckedAggregator

if TYPE_CHECKING:
    import torch

    from actors import statedict
    from actors.statedict import StateDict
else:
    torch = LazyModule("torch")  # at the first aggregation: the schema imports this file's settings
    statedict = LazyModule("actors.statedict")


class GeoMedianConfig(AggregatorSettings):
    """`max_iterations` is R, Weiszfeld steps at most; `nu` is ν, the smoothing;
    `ftol` stops early once a step lowers the objective by no more than this share."""

    kind: Literal["geomedian"] = "geomedian"
    max_iterations: int = Field(default=10, ge=1)
    nu: float = Field(default=1e-6, gt=0)
    ftol: float = Field(default=1e-6, ge=0)

    def build(self) -> GeoMedian:
        return GeoMedian(self)


class GeoMedian(CheckedAggregator[GeoMedianConfig]):
    """The α-weighted geometric median of the updates (see the module docstring)."""

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the smoothed Weiszfeld approximation of the geometric median of `updates`."""
        return statedict.weighted_mean(updates, self.weiszfeld_weights(updates, weights))

    def weiszfeld_weights(self, updates: Sequence[StateDict], weights: Sequence[float]) -> list[float]:
        """Return the last step's β: the median is Σ β_i w_i / Σ β_i."""
        points = torch.stack([_floating(u) for u in updates])
        alpha = torch.tensor(list(weights), dtype=torch.float64)
        alpha = alpha / alpha.sum()
        beta, median = alpha, alpha @ points
        objective = _objective(alpha, points, median)
        for _ in range(self.config.max_iterations):
            beta = alpha / (points - median).norm(dim=1).clamp_min(self.config.nu)
            median = (beta / beta.sum()) @ points
            lowered = objective - (objective := _objective(alpha, points, median))
            if lowered <= self.config.ftol * objective:
                break
        return beta.tolist()


def _floating(update: StateDict) -> torch.Tensor:
    return statedict.flatten({k: t for k, t in update.items() if statedict.is_floating(t)}, torch.float64)


def _objective(alpha: torch.Tensor, points: torch.Tensor, median: torch.Tensor) -> float:
    return float((alpha * (points - median).norm(dim=1)).sum())
