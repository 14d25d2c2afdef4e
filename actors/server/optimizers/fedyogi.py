"""FedYogi: Yogi as the server optimizer.

Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar, McMahan, "Adaptive
Federated Optimization", ICLR 2021 (arXiv:2003.00295), Algorithm 2:

    v_t = v_{t-1} - (1 - β2) Δ_t² sign(v_{t-1} - Δ_t²)

with the shared steps of `AdaptiveOptimizer` (momentum m_t, x_{t+1} =
x_t + η m_t / (√v_t + τ), v_{-1} = τ², no bias correction). sign(0) = 0:
where v_{t-1} = Δ_t² exactly, v does not move.

Defaults: β1 = 0.9 and β2 = 0.99 are the values the paper fixes in its
experiments; η = 1e-2 and τ = 1e-3 are typical of its tuned best values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.lazy import LazyModule
from actors.server.optimizers.base import AdaptiveOptimizer, AdaptiveSettings

if TYPE_CHECKING:
    import torch
else:
    torch = LazyModule("torch")  # at the first step: the schema imports this file's settings


class FedYogiConfig(AdaptiveSettings):
    """`lr` is η, `beta1`/`beta2` are β1/β2, `tau` is the adaptivity τ."""

    kind: Literal["fedyogi"] = "fedyogi"
    beta2: float = Field(default=0.99, ge=0, lt=1)

    def build(self) -> FedYogi:
        return FedYogi(self)


class FedYogi(AdaptiveOptimizer):
    """Yogi's second moment: moves towards Δ² by a step that does not grow with v."""

    def __init__(self, config: FedYogiConfig) -> None:
        super().__init__(config)
        self.config: FedYogiConfig = config

    def _second_moment(self, v: torch.Tensor, delta_squared: torch.Tensor) -> torch.Tensor:
        return v - delta_squared * (1 - self.config.beta2) * torch.sign(v - delta_squared)
