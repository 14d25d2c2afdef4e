"""A message rebuilt from its decoded fields, each checked against its class's annotations.

Errors name the path of the bad field from the message kind down
(`fl.task.weights['fc.bias']`, `fl.relayed.body.num_samples`). A field holding
another message (`Relayed.body`) is rebuilt here too, once, as the class it names.
"""

from __future__ import annotations

from typing import Any

from actors.errors import InvalidFieldError, UnknownKindError
from actors.field_checks import describe
from actors.messages import Message, message_class


def build_message(kind: str, fields: dict[str, Any]) -> Message:
    """The message of `kind` with `fields` (in wire form), checked as the decoder checks a received one.

    Raises:
        UnknownKindError: `kind` is not registered.
        InvalidFieldError: a field is missing, unknown, or of the wrong type; the error's
            `path` says which.
    """
    cls = message_class(kind)
    if cls is None:
        raise UnknownKindError("a registered message kind", repr(kind))
    return _build(cls, fields, kind)


def _build(cls: type[Message], fields: dict[str, Any], where: str) -> Message:
    at = "" if where == cls.kind else where  # a carried message's fields say where it sits
    wire = list(cls._wire)
    unknown = fields.keys() - set(wire)
    if unknown:
        raise InvalidFieldError(f"fields of {cls.kind!r}: {wire}", f"unknown {sorted(unknown)}", at)
    missing = cls._required - fields.keys()
    if missing:
        expected = f"fields of {cls.kind!r}: {sorted(cls._required)}"
        raise InvalidFieldError(expected, f"missing {sorted(missing)}", at)
    values: dict[str, Any] = {}
    for name in cls._fields:
        if name in cls._nested:
            if name in fields or f"{name}_kind" in fields:
                values[name] = _inner(cls, name, fields, f"{where}.{name}")
        elif name in fields:
            problem = cls._checks[name](fields[name])
            if problem is not None:
                raise InvalidFieldError(problem.expected, problem.got, f"{where}.{name}{problem.path}")
            values[name] = fields[name]
    return cls(**values)


def _inner(cls: type[Message], name: str, fields: dict[str, Any], where: str) -> Message:
    options = cls._nested[name]
    kind, body = fields.get(f"{name}_kind"), fields.get(name)
    if not isinstance(kind, str) or kind not in options:
        raise InvalidFieldError(f"one of {sorted(options)}", describe(kind), f"{where}_kind")
    if not isinstance(body, dict):
        raise InvalidFieldError(f"the fields of {kind!r} as a dict", describe(body), where)
    return _build(options[kind], body, where)
