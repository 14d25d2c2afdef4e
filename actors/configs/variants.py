"""A variant family's registry, derived from its discriminated union: the `kind` is written once.

A family (aggregators, server optimizers, staleness functions, schedulers) is
a pydantic discriminated union of config classes, each naming itself in one
`Literal` field (`kind: Literal["krum"] = "krum"`). `variants(Union, "kind")`
reads those literals back, so the registry that looks a variant up by the name
topology files use is never written by hand and cannot disagree with the schema.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel


def members(union: Any) -> tuple[type[BaseModel], ...]:
    """The config classes of a (possibly `Annotated`) union, in declaration order.

    Raises:
        TypeError: `union` is not a union of pydantic models.
    """
    while get_origin(union) is typing.Annotated:
        union = get_args(union)[0]
    if get_origin(union) not in (Union, types.UnionType):
        raise TypeError(f"expected a union of config classes, got {union!r}")
    classes = get_args(union)
    if not all(isinstance(c, type) and issubclass(c, BaseModel) for c in classes):
        raise TypeError(f"expected a union of pydantic models, got {classes!r}")
    return classes


def tag_of(config: type[BaseModel], field: str = "kind") -> str:
    """The one value of `config`'s `Literal` discriminator `field`.

    Raises:
        TypeError: the field is missing or is not a one-value `Literal` of a string.
    """
    info = config.model_fields.get(field)
    values = get_args(info.annotation) if info is not None and get_origin(info.annotation) is Literal else ()
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{config.__name__}.{field} must be a Literal of one string")
    return values[0]


def variants(union: Any, field: str = "kind") -> dict[str, type[Any]]:
    """`{tag: config class}` for every member of the discriminated `union`.

    Raises:
        TypeError: a member has no one-value `Literal` tag, or two members share one.
    """
    found: dict[str, type[Any]] = {}
    for config in members(union):
        tag = tag_of(config, field)
        if tag in found:
            raise TypeError(f"{field} {tag!r} is declared by {found[tag].__name__} and {config.__name__}")
        found[tag] = config
    return found
