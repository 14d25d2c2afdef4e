"""A client's training settings (`[client]`); the training is in `actors.client.local_sgd`.

Data only, no torch (see `actors.configs`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrainConfig(BaseModel):
    """How a client trains: exactly one of `epochs` and `steps`, and SGD's settings.

    Setting `steps` without `epochs` drops the default `epochs = 1`, so
    `{"steps": 50}` means 50 steps.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    epochs: Annotated[int, Field(ge=1)] | None = 1
    steps: Annotated[int, Field(ge=1)] | None = None
    batch_size: int = Field(default=32, gt=0)
    lr: float = Field(default=0.05, gt=0)
    momentum: float = Field(default=0.0, ge=0, lt=1)
    weight_decay: float = Field(default=0.0, ge=0)
    prox_mu: float = Field(default=0.0, ge=0)
    max_grad_norm: float | None = Field(default=None, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _steps_replace_default_epochs(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("steps") is not None and "epochs" not in data:
            return {**data, "epochs": None}
        return data

    @model_validator(mode="after")
    def _exactly_one_of_epochs_and_steps(self) -> TrainConfig:
        if (self.epochs is None) == (self.steps is None):
            raise ValueError(
                f"set exactly one of `epochs` and `steps`, got epochs={self.epochs} and steps={self.steps}"
            )
        return self
