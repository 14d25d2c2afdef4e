"""FedAdam: Adam as the server optimizer.

Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar, McMahan, "Adaptive
Federated Optimization", ICLR 2021 (arXiv:2003.00295), Algorithm 2:

    v_t = β2 v_{t-1} + (1 - β2) Δ_t²

with the shared steps of `AdaptiveOptimizer` (momentum m_t, x_{t+1} =
x_t + η m_t / (√v_t + τ), v_{-1} = τ², no bias correction).

Defaults: β1 = 0.9 and β2 = 0.99 are the values the paper fixes in its
experiments; η = 1e-2 and τ = 1e-3 are typical of its tuned best values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.server.optimizers.base import AdaptiveOptimizer, AdaptiveSettings

if TYPE_CHECKING:
    import torch


class FedAdamConfig(AdaptiveSettings):
    """`lr` is η, `beta1`/`beta2` are β1/β2, `tau` is the adaptivity τ."""

    kind: Literal["fedadam"] = "fedadam"
    beta2: float = Field(default=0.99, ge=0, lt=1)

    def build(self) -> FedAdam:
        return FedAdam(self)


class FedAdam(AdaptiveOptimizer):
    """Adam's second moment: an exponential moving average of Δ²."""

    def __init__(self, config: FedAdamConfig) -> None:
        super().__init__(config)
        self.config: FedAdamConfig = config

    def _second_moment(self, v: torch.Tensor, delta_squared: torch.Tensor) -> torch.Tensor:
        return v * self.config.beta2 + delta_squared * (1 - self.config.beta2)
