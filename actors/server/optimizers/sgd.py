"""Server SGD with heavy-ball momentum: FedAvg, and FedAvgM when momentum > 0.

Reddi et al., "Adaptive Federated Optimization", ICLR 2021 (arXiv:2003.00295),
Algorithm 1 with SERVEROPT = SGD: x_{t+1} = x_t + η_g Δ_t. With η_g = 1 this is
FedAvg exactly (McMahan et al. 2017). Momentum follows FedAvgM (Hsu, Qi,
Brown, "Measuring the Effects of Non-Identical Data Distribution for Federated
Visual Classification", 2019, arXiv:1909.06335):

    v_t = μ v_{t-1} + Δ_t,    v_{-1} = 0
    x_{t+1} = x_t + η_g v_t

With μ = 0 no buffer is kept and the step is x + η_g Δ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from actors.server.optimizers.base import BufferedOptimizer, OptimizerSettings

if TYPE_CHECKING:
    import torch

    from actors.server.optimizers.base import Buffers


class ServerSgdConfig(OptimizerSettings):
    """`lr` is η_g; `momentum` is μ. The defaults (1, 0) are FedAvg."""

    kind: Literal["sgd"] = "sgd"
    lr: float = Field(default=1.0, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)

    def build(self) -> ServerSgd:
        return ServerSgd(self)


class ServerSgd(BufferedOptimizer):
    """x ← x + η_g v, v ← μ v + Δ."""

    def __init__(self, config: ServerSgdConfig) -> None:
        super().__init__(config)
        self.config: ServerSgdConfig = config
        self.buffer_names = ("momentum",) if config.momentum > 0 else ()

    def _update(
        self, x: torch.Tensor, delta: torch.Tensor, buffers: Buffers | None
    ) -> tuple[torch.Tensor, Buffers]:
        if not self.buffer_names:
            return x + delta * self.config.lr, {}
        # The first velocity is a copy: a buffer must not alias the caller's delta.
        velocity = delta.clone() if buffers is None else buffers["momentum"] * self.config.momentum + delta
        return x + velocity * self.config.lr, {"momentum": velocity}
