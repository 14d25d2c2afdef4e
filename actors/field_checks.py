"""Checks of a received message's fields against its class's annotations, compiled once per class.

A check returns None when the value fits, or a `Problem`: where below the
field it went wrong (`['fc.bias']`, `[2]`), what was expected and what
arrived, so a decode error can say `weights['fc.bias']: expected Tensor, got str`.

This module must not import torch (the topology schema imports the messages):
a tensor annotation is recognised by name, and the decoder that built the
value has imported torch already.
"""

from __future__ import annotations

import sys
import types
import typing
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np


class Problem(NamedTuple):
    """Why a value does not fit its annotation.

    Attributes:
        path: where below the checked value (`""`: the value itself; `['w'][0]`).
        expected: what the annotation allows there.
        got: what arrived.
    """

    path: str
    expected: str
    got: str

    def below(self, step: str) -> Problem:
        """The same problem, seen from one level up (`step` is the key or index it was under)."""
        return Problem(step + self.path, self.expected, self.got)


Check = Callable[[Any], Problem | None]


class TensorLeaf:
    """Stands for `torch.Tensor` in annotations that must resolve without torch
    (see `actors.messages.StateDict`)."""


def describe(value: Any) -> str:
    """A short, safe account of a peer's value for an error message."""
    if _is_tensor(value):
        return f"Tensor of {value.dtype} and shape {list(value.shape)}"
    return f"{type(value).__name__} {value!r:.60}"


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")  # a tensor arrived only if torch is imported
    return torch is not None and isinstance(value, torch.Tensor)


def _is_torch_tensor_annotation(annotation: Any) -> bool:
    # Named, not imported: a class that annotates a field `torch.Tensor` has imported torch.
    named = (getattr(annotation, "__module__", None), getattr(annotation, "__name__", None))
    return annotation is TensorLeaf or named == ("torch", "Tensor")


def _instance_of(types_: tuple[type, ...], name: str, exclude_bool: bool = False) -> Check:
    def check(value: Any) -> Problem | None:
        if isinstance(value, types_) and not (exclude_bool and isinstance(value, bool)):
            return None
        return Problem("", name, describe(value))

    return check


def _tensor(value: Any) -> Problem | None:
    return None if _is_tensor(value) else Problem("", "Tensor", describe(value))


def _any(value: Any) -> Problem | None:
    return None  # any nesting: the codec rebuilt only tensors and plain values


_SIMPLE: dict[Any, tuple[Check, str]] = {
    int: (_instance_of((int,), "int", exclude_bool=True), "int"),
    float: (_instance_of((int, float), "float", exclude_bool=True), "float"),
    str: (_instance_of((str,), "str"), "str"),
    bytes: (_instance_of((bytes, bytearray, memoryview), "bytes"), "bytes"),
    bool: (_instance_of((bool,), "bool"), "bool"),
    type(None): (_instance_of((type(None),), "None"), "None"),
    np.ndarray: (_instance_of((np.ndarray,), "ndarray"), "ndarray"),
    Any: (_any, "any value"),
}


def annotation_name(annotation: Any) -> str:
    """How an error message names what `annotation` allows."""
    if annotation in _SIMPLE:
        return _SIMPLE[annotation][1]
    if _is_torch_tensor_annotation(annotation):
        return "Tensor"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(annotation_name(a) for a in args)
    if origin in (list, dict, tuple):
        inner = ", ".join(annotation_name(a) for a in args)
        return f"{origin.__name__}[{inner}]" if args else origin.__name__
    return getattr(annotation, "__name__", repr(annotation))


def check_for(annotation: Any) -> Check:
    """The check of a field annotated `annotation`.

    Raises:
        TypeError: the annotation is not one the wire can carry.
    """
    if annotation in _SIMPLE:
        return _SIMPLE[annotation][0]
    if _is_torch_tensor_annotation(annotation):
        return _tensor
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        return _union([check_for(a) for a in args], annotation_name(annotation))
    if origin is list:
        return _list(check_for(args[0]) if args else _any)
    if origin is dict:
        return _dict(check_for(args[1]) if args else _any)
    if origin is tuple:
        return _instance_of((list, tuple), "list")
    raise TypeError(f"message field annotation {annotation!r} is not supported on the wire")


def _union(options: list[Check], name: str) -> Check:
    def check(value: Any) -> Problem | None:
        problems = []
        for option in options:
            problem = option(value)
            if problem is None:
                return None
            problems.append(problem)
        deepest = max(problems, key=lambda p: len(p.path))  # the option the value's shape matched
        return deepest if deepest.path else Problem("", name, describe(value))

    return check


def _list(item: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, list):
            return Problem("", "list", describe(value))
        for index, x in enumerate(value):
            problem = item(x)
            if problem is not None:
                return problem.below(f"[{index}]")
        return None

    return check


def _dict(item: Check) -> Check:
    def check(value: Any) -> Problem | None:
        if not isinstance(value, dict):
            return Problem("", "dict", describe(value))
        for key, x in value.items():
            if not isinstance(key, str):
                return Problem("", "str keys", describe(key))
            problem = item(x)
            if problem is not None:
                return problem.below(f"[{key!r:.60}]")
        return None

    return check
