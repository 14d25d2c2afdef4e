"""User callables that are wrong in one way each, for the bad-file corpus next to this file."""

from __future__ import annotations

from typing import Any


def broken_model(input_shape: tuple[int, ...], num_classes: int) -> Any:
    raise ValueError(f"cannot build a model for {input_shape}")


def not_a_model(input_shape: tuple[int, ...], num_classes: int) -> Any:
    return "a string, not an nn.Module"


def trainer_of_one_argument(model: Any) -> Any:
    return model


def not_an_aggregator() -> Any:
    return 42


def staleness_above_one(tau: int) -> float:
    return 2.0
