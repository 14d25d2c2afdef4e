"""Messages: a closed set of small frozen records, each with one wire tag.

A message class is a frozen dataclass registered under its `kind`:

    @message("task")
    class Task(Message):
        version: int
        weights: TensorTree

Fields may hold msgpack-able values (None, bool, int, float, str, bytes, lists
and dicts of them) and trees of tensors (dicts and lists whose leaves are
`torch.Tensor` or `numpy.ndarray`); the codec sends every tensor as its own
frame. The registry is what the decoder trusts: a kind it does not hold is an
`UnknownKindError`, and each field is checked against its annotation.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast, dataclass_transform

import numpy as np

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# A tree of tensors: a tensor, or dicts / lists of trees (leaves may also be
# plain numbers or strings, e.g. metadata beside a state_dict).
TensorTree = Any

REPLY = 1  # Envelope.flags bit: this envelope answers an ask (corr_id says which).

Check = Callable[[Any], bool]


class Message:
    """Base of every message class; subclasses are made with `@message(kind)`."""

    __slots__ = ()

    kind: ClassVar[str]
    _fields: ClassVar[tuple[str, ...]]
    _required: ClassVar[frozenset[str]]
    _checks: ClassVar[dict[str, Check]]

    def to_fields(self) -> dict[str, Any]:
        """The message's fields as a dict, in declaration order."""
        return {name: getattr(self, name) for name in self._fields}


_REGISTRY: dict[str, type[Message]] = {}
M = TypeVar("M", bound=Message)


@dataclass_transform(frozen_default=True)
def message(kind: str) -> Callable[[type[M]], type[M]]:
    """Class decorator: make a frozen dataclass and register it under `kind`.

    Raises:
        ValueError: `kind` is already registered to another class.
    """

    def register(cls: type[M]) -> type[M]:
        if kind in _REGISTRY and _REGISTRY[kind].__qualname__ != cls.__qualname__:
            raise ValueError(f"message kind {kind!r} is already registered to {_REGISTRY[kind]}")
        made = dataclass(frozen=True, slots=True)(cls)
        made.kind = kind
        fields = dataclasses.fields(cast("type[DataclassInstance]", made))  # made a dataclass just above
        made._fields = tuple(f.name for f in fields)
        made._required = frozenset(
            f.name
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        )
        hints = typing.get_type_hints(made)
        made._checks = {f.name: _check_for(hints[f.name]) for f in fields}
        _REGISTRY[kind] = made
        return made

    return register


def message_class(kind: str) -> type[Message] | None:
    """The class registered for `kind`, or None."""
    return _REGISTRY.get(kind)


def registered_kinds() -> frozenset[str]:
    """Every kind the decoder accepts."""
    return frozenset(_REGISTRY)


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message in flight: who sent it, to whom, and how it relates to an ask.

    Attributes:
        sender: name of the sending actor.
        receiver: name of the receiving actor.
        body: the message.
        corr_id: non-zero for an ask and for its reply.
        flags: bit set; `REPLY` marks a reply.
        origin: id of the node it came from; set on receipt, never sent.
    """

    sender: str
    receiver: str
    body: Message
    corr_id: int = 0
    flags: int = 0
    origin: str = ""

    @property
    def is_reply(self) -> bool:
        return bool(self.flags & REPLY)


# -- field checks, compiled once per class from the annotations ---------------


def _is_tree(value: Any) -> bool:
    return True  # any nesting; the codec already rebuilt only tensors and plain values


def _scalar(types_: tuple[type, ...], exclude_bool: bool = False) -> Check:
    if exclude_bool:
        return lambda v: isinstance(v, types_) and not isinstance(v, bool)
    return lambda v: isinstance(v, types_)


_SIMPLE: dict[Any, Check] = {
    int: _scalar((int,), exclude_bool=True),
    float: _scalar((int, float), exclude_bool=True),
    str: _scalar((str,)),
    bytes: _scalar((bytes, bytearray, memoryview)),
    bool: _scalar((bool,)),
    type(None): lambda v: v is None,
    np.ndarray: _scalar((np.ndarray,)),
    Any: _is_tree,
}


def _is_torch_tensor(annotation: Any) -> bool:
    # Named, not imported: this module runs in `validate` and the schema, which must not
    # import torch (~2 s); a class that annotates a field `torch.Tensor` has imported it.
    return (
        getattr(annotation, "__module__", None) == "torch"
        and getattr(annotation, "__name__", None) == "Tensor"
    )


def _check_for(annotation: Any) -> Check:
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    if _is_torch_tensor(annotation):
        return _scalar((annotation,))
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        options = [_check_for(a) for a in args]
        return lambda v: any(check(v) for check in options)
    if origin is list:
        item = _check_for(args[0]) if args else _is_tree
        return lambda v: isinstance(v, list) and all(item(x) for x in v)
    if origin is dict:
        value = _check_for(args[1]) if args else _is_tree
        return lambda v: isinstance(v, dict) and all(isinstance(k, str) and value(x) for k, x in v.items())
    if origin is tuple:
        return lambda v: isinstance(v, list | tuple)
    raise TypeError(f"message field annotation {annotation!r} is not supported on the wire")


# -- runtime messages every node understands ----------------------------------


@message("failure")
class Failure(Message):
    """Reply to an ask whose handler raised."""

    error_type: str
    detail: str


@message("ack")
class Ack(Message):
    """Empty reply: the ask was handled and had nothing to return."""


@message("heartbeat")
class Heartbeat(Message):
    """I am alive (see `actors.liveness`). The receiving node notes when it heard
    from the sender and drops the message: no actor handles it."""
