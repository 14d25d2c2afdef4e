"""The wire form of an `Envelope`: one msgpack header frame plus one frame per tensor.

Frame 0 is the msgpack array `[WIRE_VERSION, kind, sender, receiver, corr_id,
flags, fields]`. Inside `fields`, every tensor is replaced by a msgpack ext
value that holds its frame index, dtype code and shape; frames 1..n are the
tensors' own bytes, handed to ZeroMQ without copying and rebuilt with
`torch.frombuffer` (or `numpy.frombuffer`) without copying.

Decoding never trusts its input. Each way a peer can get it wrong raises its
own subclass of `DecodeError` that says what was expected and what arrived.
This is the only module that imports msgpack. No pickle, ever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import torch

from actors.errors import (
    DecodeError,
    EncodeError,
    FrameCountError,
    MalformedEnvelopeError,
    OversizeFrameError,
    TruncatedEnvelopeError,
)
from actors.messages import Envelope, message_class
from actors.tensor_wire import ndarray_ref, rebuild_tensor, tensor_ref, tree_nbytes
from actors.wire_fields import build_message

__all__ = [
    "DEFAULT_LIMITS",
    "WIRE_VERSION",
    "DecodeLimits",
    "build_message",
    "decode",
    "decode_tree",
    "encode",
    "encode_tree",
    "tree_nbytes",
    "wire_size",
]

WIRE_VERSION = 1
_HEADER_LEN = 7


@dataclass(frozen=True, slots=True)
class DecodeLimits:
    """What a decoder accepts from a peer.

    Attributes:
        max_frame_bytes: largest single frame (a tensor or the header); the
            default, 1 GiB, holds any model we expect while refusing absurd input.
        max_frames: most tensor frames in one message.
        max_name_chars: longest sender or receiver name (actor names are short;
            a longer one is a peer's attempt on the node's memory or logs).
        max_kind_chars: longest message kind.
        max_string_bytes: longest string anywhere in the header (a `reason`,
            a `detail`, a tensor's name), enforced by msgpack while it parses.
    """

    max_frame_bytes: int = 1 << 30
    max_frames: int = 100_000
    max_name_chars: int = 256
    max_kind_chars: int = 64
    max_string_bytes: int = 65_536


DEFAULT_LIMITS = DecodeLimits()


# -- encode -------------------------------------------------------------------


def encode(envelope: Envelope) -> list[Any]:
    """Frames for `envelope`: the header, then each tensor's bytes (no copies).

    Raises:
        EncodeError: a field holds a value msgpack cannot carry, a tensor not on
            the CPU, or a dtype outside the wire's table.
    """
    header = [
        WIRE_VERSION,
        envelope.body.kind,
        envelope.sender,
        envelope.receiver,
        envelope.corr_id,
        envelope.flags,
        envelope.body.to_fields(),
    ]
    return _pack(header, repr(envelope.body.kind))


def encode_tree(tree: Any) -> list[Any]:
    """Frames for a tree of dicts (str keys), lists, tuples, scalars, strings and tensors,
    in the wire's form: a msgpack frame, then each tensor's bytes (no copies).

    What a file written without pickle (a checkpoint) holds; `decode_tree`
    reads it back, with tuples as lists.

    Raises:
        EncodeError: as for `encode`.
    """
    return _pack(tree, "a tree")


def _pack(obj: Any, what: str) -> list[Any]:
    frames: list[Any] = [b""]

    def default(value: Any) -> msgpack.ExtType:
        if isinstance(value, torch.Tensor):
            return msgpack.ExtType(*tensor_ref(value, frames))
        if isinstance(value, np.ndarray):
            return msgpack.ExtType(*ndarray_ref(value, frames))
        if isinstance(value, tuple):
            return list(value)
        raise EncodeError(f"cannot put a {type(value).__name__} on the wire in {what}")

    try:
        frames[0] = msgpack.packb(obj, default=default)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EncodeError(f"cannot encode {what}: {exc}") from exc
    return frames


def wire_size(frames: Sequence[Any]) -> int:
    """Bytes the frames occupy on the wire (payload only, no ZMTP framing)."""
    return sum(memoryview(f).nbytes for f in frames)


# -- decode -------------------------------------------------------------------


def decode(frames: Sequence[Any], limits: DecodeLimits = DEFAULT_LIMITS, origin: str = "") -> Envelope:
    """Rebuild an `Envelope` from frames, sharing the tensor frames' memory.

    Frames are any objects with the buffer protocol (bytes, zmq frames, arrays).
    Read-only buffers are copied once so the tensors built on them are writable.
    `origin` (the sending node, known to the transport) is set on the envelope.

    Raises:
        OversizeFrameError: a frame is larger than `limits.max_frame_bytes`.
        FrameCountError: no frames, too many, or not one per tensor the header lists.
        TruncatedEnvelopeError: the header ends early.
        MalformedEnvelopeError: the header is not a fedactors envelope.
        UnknownKindError: the kind is not a registered message.
        InvalidFieldError: a field is missing, unknown, or of the wrong type.
        UnknownDtypeError: a tensor's dtype code is not in the table.
        TensorSizeError: a tensor frame's length is not dtype size × shape.
    """
    views = _checked_views(frames, limits)
    used: set[int] = set()
    header = _unpack(views, used, limits)
    _check_header_shape(header, limits)
    _check_every_frame_used(views, used)
    _version, kind, sender, receiver, corr_id, flags, fields = header
    return Envelope(sender, receiver, build_message(kind, fields), corr_id, flags, origin)


def decode_tree(frames: Sequence[Any], limits: DecodeLimits = DEFAULT_LIMITS) -> Any:
    """Rebuild what `encode_tree` encoded (tuples come back as lists), checked as `decode` checks.

    Raises:
        OversizeFrameError, FrameCountError, TruncatedEnvelopeError,
        MalformedEnvelopeError, UnknownDtypeError, TensorSizeError: as for `decode`.
    """
    views = _checked_views(frames, limits)
    used: set[int] = set()
    tree = _unpack(views, used, limits)
    _check_every_frame_used(views, used)
    return tree


def _check_every_frame_used(views: list[memoryview], used: set[int]) -> None:
    if len(used) != len(views) - 1:
        raise FrameCountError(f"{len(used)} tensor frame(s) as the header lists", f"{len(views) - 1}")


def _checked_views(frames: Sequence[Any], limits: DecodeLimits) -> list[memoryview]:
    if not frames:
        raise FrameCountError("at least the header frame", "no frames")
    if len(frames) - 1 > limits.max_frames:
        raise FrameCountError(f"at most {limits.max_frames} tensor frames", f"{len(frames) - 1}")
    views = []
    for index, frame in enumerate(frames):
        view = memoryview(frame)
        if view.nbytes > limits.max_frame_bytes:
            raise OversizeFrameError(
                f"frames of at most {limits.max_frame_bytes} bytes", f"{view.nbytes} bytes in frame {index}"
            )
        views.append(view)
    return views


def _unpack(views: list[memoryview], used: set[int], limits: DecodeLimits) -> Any:
    seen = 0  # tensor references read so far: on a bad one, which it was

    def ext_hook(code: int, data: bytes) -> Any:
        nonlocal seen
        seen += 1
        return rebuild_tensor(code, data, views, used)

    try:
        header = _unpackb(views[0], ext_hook, limits)
    except DecodeError as exc:  # a bad tensor reference: say where it sits
        raise exc.at(_where(views[0], seen, limits)) from None
    except msgpack.ExtraData as exc:
        raise MalformedEnvelopeError("one msgpack value in the header frame", "trailing bytes") from exc
    except ValueError as exc:
        if "max_str_len" in str(exc):
            raise MalformedEnvelopeError(
                f"strings of at most {limits.max_string_bytes} bytes", str(exc)
            ) from exc
        if "incomplete" in str(exc):
            raise TruncatedEnvelopeError(
                "a complete msgpack header", f"{views[0].nbytes} bytes that end early"
            ) from exc
        raise MalformedEnvelopeError("a msgpack header", f"undecodable bytes ({exc})") from exc
    except Exception as exc:  # msgpack raises many types on garbage: all are bad input here
        raise MalformedEnvelopeError("a msgpack header", f"{type(exc).__name__}: {exc}") from exc
    return header


def _unpackb(frame: memoryview, ext_hook: Callable[[int, bytes], Any], limits: DecodeLimits) -> Any:
    return msgpack.unpackb(
        frame, ext_hook=ext_hook, raw=False, strict_map_key=True, max_str_len=limits.max_string_bytes
    )


class _Bad:
    """Marks, in a second reading of the header, the tensor reference that was refused."""


def _where(frame: memoryview, bad: int, limits: DecodeLimits) -> str:
    """The path of the `bad`-th tensor reference in the header (`fl.task.weights['fc.bias']`),
    or "" when the header cannot be read without its tensors either."""
    count = 0

    def ext_hook(code: int, data: bytes) -> Any:
        nonlocal count
        count += 1
        return _Bad() if count == bad else None

    try:
        value = _unpackb(frame, ext_hook, limits)
    except Exception:  # broken after the bad reference too: no path to give
        return ""
    steps = _steps_to_bad(value)
    if steps is None:
        return ""
    is_envelope = isinstance(value, list) and len(value) == _HEADER_LEN and isinstance(value[1], str)
    if is_envelope and steps[0] == _HEADER_LEN - 1 and len(steps) > 1:  # in the fields
        return _field_path(value[1], value[-1], steps[1:])
    return ("header" if is_envelope else "tree") + _indexes(steps)


def _field_path(kind: str, fields: Any, steps: list[Any]) -> str:
    """`kind.field[...]`, going down into carried messages (`fl.relayed.body.weights['w']`)."""
    path, cls, taken = kind, message_class(kind), 0
    while cls is not None and taken < len(steps) and isinstance(fields, dict):
        name = steps[taken]
        path, taken = f"{path}.{name}", taken + 1
        if name not in cls._nested:
            break
        inner = fields.get(f"{name}_kind")
        cls = cls._nested[name].get(inner) if isinstance(inner, str) else None
        fields = fields.get(name)
    return path + _indexes(steps[taken:])


def _indexes(steps: list[Any]) -> str:
    return "".join(f"[{s!r:.60}]" for s in steps)


def _steps_to_bad(value: Any) -> list[Any] | None:
    if isinstance(value, _Bad):
        return []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        below = _steps_to_bad(item)
        if below is not None:
            return [key, *below]
    return None


def _check_header_shape(header: Any, limits: DecodeLimits) -> None:
    if not isinstance(header, list) or len(header) != _HEADER_LEN:
        got = (
            f"{type(header).__name__} of length {len(header)}"
            if isinstance(header, list)
            else type(header).__name__
        )
        raise MalformedEnvelopeError(f"a list of {_HEADER_LEN} header items", got)
    version, kind, sender, receiver, corr_id, flags, fields = header
    if version != WIRE_VERSION:
        raise MalformedEnvelopeError(f"wire version {WIRE_VERSION}", repr(version))
    for name, value, typ in (
        ("kind", kind, str),
        ("sender", sender, str),
        ("receiver", receiver, str),
        ("corr_id", corr_id, int),
        ("flags", flags, int),
        ("fields", fields, dict),
    ):
        if not isinstance(value, typ) or isinstance(value, bool):
            raise MalformedEnvelopeError(f"{name} of type {typ.__name__}", type(value).__name__)
    for name, value, limit in (
        ("kind", kind, limits.max_kind_chars),
        ("sender", sender, limits.max_name_chars),
        ("receiver", receiver, limits.max_name_chars),
    ):
        if len(value) > limit:
            raise MalformedEnvelopeError(
                f"a {name} of at most {limit} characters", f"{len(value)} characters"
            )
