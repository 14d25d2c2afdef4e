"""FedAdagrad: Adagrad as the server optimizer.

Reddi, Charles, Zaheer, Garrett, Rush, Konečný, Kumar, McMahan, "Adaptive
Federated Optimization", ICLR 2021 (arXiv:2003.00295), Algorithm 2:

    v_t = v_{t-1} + Δ_t²

with the shared steps of `AdaptiveOptimizer` (momentum m_t, x_{t+1} =
x_t + η m_t / (√v_t + τ), v_{-1} = τ², no bias correction). Algorithm 2 keeps
the momentum m_t for FedAdagrad too; set `beta1 = 0` for plain Adagrad.

Defaults: β1 = 0.9 is the value the paper fixes in its experiments; η = 1e-2
and τ = 1e-3 are typical of its tuned best values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from actors.server.optimizers.base import AdaptiveOptimizer, AdaptiveSettings

if TYPE_CHECKING:
    import torch


class FedAdagradConfig(AdaptiveSettings):
    """`lr` is η, `beta1` is β1, `tau` is the adaptivity τ. Adagrad has no β2."""

    kind: Literal["fedadagrad"] = "fedadagrad"

    def build(self) -> FedAdagrad:
        return FedAdagrad(self)


class FedAdagrad(AdaptiveOptimizer):
    """Adagrad's second moment: the running sum of Δ²."""

    def __init__(self, config: FedAdagradConfig) -> None:
        super().__init__(config)
        self.config: FedAdagradConfig = config

    def _second_moment(self, v: torch.Tensor, delta_squared: torch.Tensor) -> torch.Tensor:
        return v + delta_squared
