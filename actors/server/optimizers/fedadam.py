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

import torch

from actors.configs.optimizers import FedAdamConfig
from actors.server.optimizers.base import AdaptiveOptimizer


class FedAdam(AdaptiveOptimizer):
    """Adam's second moment: an exponential moving average of Δ²."""

    kind = "fedadam"

    def __init__(self, config: FedAdamConfig) -> None:
        super().__init__(config.lr, config.beta1, config.tau)
        self.config = config

    def _second_moment(self, v: torch.Tensor, delta_squared: torch.Tensor) -> torch.Tensor:
        return v * self.config.beta2 + delta_squared * (1 - self.config.beta2)
