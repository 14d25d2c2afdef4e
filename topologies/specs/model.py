"""Declarations of the `[model]` table of a topology file.

    [model]
    kind = "mlp"
    hidden = [128, 64]

`ModelSpec` is a discriminated union on `kind`; `sims.models.build_model`
turns one into a `torch.nn.Module` for the dataset's input shape and classes.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationInfo, field_validator

from topologies.specs.data import CallablePath, check_callable


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LogRegModelSpec(_Spec):
    """Multinomial logistic regression: one linear layer on the flattened input."""

    kind: Literal["logreg"] = "logreg"


class MlpModelSpec(_Spec):
    """Fully connected layers of the given widths, each followed by the activation."""

    kind: Literal["mlp"] = "mlp"
    hidden: tuple[PositiveInt, ...] = (64,)
    activation: Literal["relu", "tanh", "gelu"] = "relu"


class CnnModelSpec(_Spec):
    """Two 3x3 conv + ReLU + 2x2 max-pool blocks, then one linear layer.

    Accepts inputs shaped (C, H, W) or (H, W), or flat (H*H,) for a square
    image, with H, W >= 4; e.g. (1, 28, 28) for MNIST, (64,) for digits.
    """

    kind: Literal["cnn"] = "cnn"
    channels: tuple[PositiveInt, PositiveInt] = (16, 32)


class CustomModelSpec(_Spec):
    """The user's own model: `path` names `f(input_shape, num_classes, **options) -> nn.Module`."""

    kind: Literal["custom"] = "custom"
    options: dict[str, Any] = Field(default_factory=dict)  # before path, which is checked with them
    path: CallablePath

    @field_validator("path")
    @classmethod
    def _takes_the_call(cls, path: str, info: ValidationInfo) -> str:
        options = info.data.get("options", {})
        check_callable(path, "f(input_shape, num_classes, **options)", (1,), 2, **options)
        return path


ModelSpec = Annotated[
    LogRegModelSpec | MlpModelSpec | CnnModelSpec | CustomModelSpec,
    Field(discriminator="kind"),
]
