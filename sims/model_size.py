"""A built-in model's input checks and parameter count, without building it (no torch).

`fedactors validate` refuses a model that cannot take the data or is too big
before any process starts, and must not import torch to do so (~2 s). For the
built-in kinds the count is arithmetic on the layer shapes of `sims.models`
(tested against the built models); a `custom` model is user code and is built.
"""

from __future__ import annotations

import itertools
import math

from sims.errors import ModelError
from topologies.specs.model import CnnModelSpec, LogRegModelSpec, MlpModelSpec, ModelSpec

MIN_CNN_SIDE = 4  # two 2x2 poolings
_CNN_KERNEL = 3 * 3


def checked_input(kind: str, input_shape: tuple[int, ...], num_classes: int) -> tuple[int, ...]:
    """The input shape as ints, after the checks every model makes.

    Raises:
        ModelError: input_shape is empty or not positive, or num_classes < 2.
    """
    shape = tuple(int(d) for d in input_shape)
    if not shape or min(shape) < 1:
        raise ModelError(kind, f"input_shape must be non-empty and positive, got {shape}")
    if num_classes < 2:
        raise ModelError(kind, f"num_classes must be >= 2, got {num_classes}")
    return shape


def image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """Read an input shape as (C, H, W) for the CNN.

    Raises:
        ModelError: not (C, H, W), (H, W) or a flat square, or a side < 4.
    """
    shape: tuple[int, int, int] | None
    match input_shape:
        case (channels, height, width):
            shape = (channels, height, width)
        case (height, width):
            shape = (1, height, width)
        case (size,) if math.isqrt(size) ** 2 == size:
            shape = (1, math.isqrt(size), math.isqrt(size))
        case _:
            shape = None
    if shape is None or min(shape[1:]) < MIN_CNN_SIDE:
        raise ModelError(
            "cnn",
            f"needs an image input shaped (C, H, W), (H, W) or flat (S*S,) with sides >= "
            f"{MIN_CNN_SIDE}, got {input_shape}; use 'mlp' or 'logreg' for flat features",
        )
    return shape


def parameter_count(spec: ModelSpec, input_shape: tuple[int, ...], num_classes: int) -> int | None:
    """How many parameters `sims.models.build_model` gives this spec; None for a custom model.

    Raises:
        ModelError: as `build_model` would: the model cannot take this input.
    """
    shape = checked_input(spec.kind, input_shape, num_classes)
    match spec:
        case LogRegModelSpec():
            return _linear(math.prod(shape), num_classes)
        case MlpModelSpec():
            widths = [math.prod(shape), *spec.hidden, num_classes]
            return sum(_linear(a, b) for a, b in itertools.pairwise(widths))
        case CnnModelSpec():
            channels, height, width = image_shape(shape)
            first, second = spec.channels
            convs = first * (channels * _CNN_KERNEL + 1) + second * (first * _CNN_KERNEL + 1)
            return convs + _linear(second * (height // 4) * (width // 4), num_classes)
    return None


def _linear(inputs: int, outputs: int) -> int:
    return inputs * outputs + outputs  # weight and bias
