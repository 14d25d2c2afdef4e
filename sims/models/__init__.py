"""Models for simulated clients, built from the `[model]` declaration.

`MODEL_BUILDERS` maps each `kind` of a topology file to a function
`(spec, input_shape, num_classes) -> nn.Module`; `build_model` seeds the
weights without disturbing the caller's random state. Every model takes a
float32 batch, flat (N, prod(input_shape)) or shaped (N, *input_shape), and
returns logits (N, num_classes).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from sims.errors import ModelError
from sims.model_size import checked_input
from sims.models.cnn import build_cnn
from sims.models.logreg import build_logreg
from sims.models.mlp import build_mlp
from topologies.errors import ImportPathError
from topologies.imports import resolve_import
from topologies.specs.model import CustomModelSpec, ModelSpec

ModelBuilder = Callable[[Any, tuple[int, ...], int], nn.Module]


def build_custom(spec: CustomModelSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """Call the user's `f(input_shape, num_classes, **options)`.

    Raises:
        ModelError: the path no longer imports, or `f` returned no nn.Module.
    """
    try:
        factory = resolve_import(spec.path)
    except ImportPathError as exc:
        raise ModelError(spec.path, exc.reason) from exc
    model = factory(input_shape, num_classes, **spec.options)
    if not isinstance(model, nn.Module):
        raise ModelError(spec.path, f"expected a torch.nn.Module, got {type(model).__name__}")
    return model


MODEL_BUILDERS: dict[str, ModelBuilder] = {
    "logreg": build_logreg,
    "mlp": build_mlp,
    "cnn": build_cnn,
    "custom": build_custom,
}


def build_model(spec: ModelSpec, input_shape: Sequence[int], num_classes: int, seed: int) -> nn.Module:
    """Build the declared model; the same seed gives the same initial weights.

    The global torch RNG is forked, seeded and restored, so the caller's
    random state is the same afterwards.

    Raises:
        ModelError: input_shape or num_classes is invalid, or the model
            cannot take this input shape (see `sims.models.cnn`).
    """
    shape = checked_input(spec.kind, tuple(input_shape), num_classes)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return MODEL_BUILDERS[spec.kind](spec, shape, num_classes)
