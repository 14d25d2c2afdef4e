"""Messages: a closed set of small frozen records, each with one wire tag.

A message class is a frozen dataclass registered under its `kind`:

    @message("task")
    class Task(Message):
        version: int
        weights: StateDict

Fields may hold msgpack-able values (None, bool, int, float, str, bytes, lists
and dicts of them), tensors (`StateDict` for a model's weights, or any
`TensorTree`), and another message (a field annotated with message classes or
a union of them, which travels as `<name>_kind` and `<name>`, its fields). The
codec sends every tensor as its own frame. The registry is what the decoder
trusts: a kind it does not hold is an `UnknownKindError`, and each field is
checked against its annotation (`actors.field_checks`), once, on receipt.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypeVar, cast, dataclass_transform

from actors.field_checks import Check, TensorLeaf, check_for

if TYPE_CHECKING:
    from _typeshed import DataclassInstance
    from torch import Tensor

    StateDict: TypeAlias = dict[str, Tensor]
else:
    # The same alias, resolvable without importing torch (the schema imports this module):
    # the field checks read `TensorLeaf` as `torch.Tensor`.
    StateDict = dict[str, TensorLeaf]

# Any tree the codec carries: a tensor or array, a plain value, or dicts (str keys) and
# lists of trees. The decoder builds nothing else, so a `TensorTree` field is not checked further.
TensorTree: TypeAlias = Any

REPLY = 1  # Envelope.flags bit: this envelope answers an ask (corr_id says which).


class Message:
    """Base of every message class; subclasses are made with `@message(kind)`."""

    __slots__ = ()

    kind: ClassVar[str]
    _fields: ClassVar[tuple[str, ...]]
    _nested: ClassVar[dict[str, dict[str, type[Message]]]]  # message-valued fields: kind -> class
    _wire: ClassVar[tuple[str, ...]]  # the fields' names on the wire, in order
    _required: ClassVar[frozenset[str]]  # wire names
    _checks: ClassVar[dict[str, Check]]  # by field, but for message-valued ones

    def to_fields(self) -> dict[str, Any]:
        """The message's fields in their wire form, in declaration order (a message-valued
        field `f` as `f_kind` and `f`, its own fields)."""
        if not self._nested:
            return {name: getattr(self, name) for name in self._fields}
        fields: dict[str, Any] = {}
        for name in self._fields:
            value = getattr(self, name)
            if name in self._nested:
                fields[f"{name}_kind"] = value.kind
                value = value.to_fields()
            fields[name] = value
        return fields


_REGISTRY: dict[str, type[Message]] = {}
M = TypeVar("M", bound=Message)


@dataclass_transform(frozen_default=True)
def message(kind: str) -> Callable[[type[M]], type[M]]:
    """Class decorator: make a frozen dataclass and register it under `kind`.

    Raises:
        ValueError: `kind` is already registered to another class.
        TypeError: a field's annotation is not one the wire can carry.
    """

    def register(cls: type[M]) -> type[M]:
        if kind in _REGISTRY and _REGISTRY[kind].__qualname__ != cls.__qualname__:
            raise ValueError(f"message kind {kind!r} is already registered to {_REGISTRY[kind]}")
        made = dataclass(frozen=True, slots=True)(cls)
        made.kind = kind
        fields = dataclasses.fields(cast("type[DataclassInstance]", made))  # made a dataclass just above
        hints = typing.get_type_hints(made)
        made._fields = tuple(f.name for f in fields)
        made._nested = {f.name: nested for f in fields if (nested := _message_classes(hints[f.name]))}
        made._wire = tuple(wire for f in fields for wire in _wire_names(f.name, made._nested))
        made._required = frozenset(
            wire
            for f in fields
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            for wire in _wire_names(f.name, made._nested)
        )
        made._checks = {f.name: check_for(hints[f.name]) for f in fields if f.name not in made._nested}
        _REGISTRY[kind] = made
        return made

    return register


def _wire_names(name: str, nested: Mapping[str, object]) -> tuple[str, ...]:
    return (f"{name}_kind", name) if name in nested else (name,)


def _message_classes(annotation: Any) -> dict[str, type[Message]]:
    """The classes, by kind, of a field annotated with message classes (else empty)."""
    if typing.get_origin(annotation) in (types.UnionType, typing.Union):
        options = typing.get_args(annotation)
    else:
        options = (annotation,)
    if not all(isinstance(o, type) and issubclass(o, Message) for o in options):
        return {}
    return {o.kind: o for o in options}


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
