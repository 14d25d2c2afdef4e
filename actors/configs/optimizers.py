"""The server optimizers' settings (`[server] optimizer`), found by `kind`; the optimizers are in
`actors.server.optimizers`.

Data only, no torch (see `actors.configs`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class ServerSgdConfig(BaseModel):
    """`lr` is η_g; `momentum` is μ. The defaults (1, 0) are FedAvg."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["sgd"] = "sgd"
    lr: float = Field(default=1.0, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)


class FedAdamConfig(BaseModel):
    """`lr` is η, `beta1`/`beta2` are β1/β2, `tau` is the adaptivity τ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fedadam"] = "fedadam"
    lr: float = Field(default=1e-2, gt=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.99, ge=0, lt=1)
    tau: float = Field(default=1e-3, gt=0)


class FedYogiConfig(BaseModel):
    """`lr` is η, `beta1`/`beta2` are β1/β2, `tau` is the adaptivity τ."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fedyogi"] = "fedyogi"
    lr: float = Field(default=1e-2, gt=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    beta2: float = Field(default=0.99, ge=0, lt=1)
    tau: float = Field(default=1e-3, gt=0)


class FedAdagradConfig(BaseModel):
    """`lr` is η, `beta1` is β1, `tau` is the adaptivity τ. Adagrad has no β2."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["fedadagrad"] = "fedadagrad"
    lr: float = Field(default=1e-2, gt=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    tau: float = Field(default=1e-3, gt=0)


ServerOptimizerConfig = Annotated[
    ServerSgdConfig | FedAdamConfig | FedYogiConfig | FedAdagradConfig,
    Field(discriminator="kind"),
]
