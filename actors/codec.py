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

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np
import torch

from actors.errors import (
    DecodeError,
    EncodeError,
    FrameCountError,
    InvalidFieldError,
    MalformedEnvelopeError,
    OversizeFrameError,
    TensorSizeError,
    TruncatedEnvelopeError,
    UnknownDtypeError,
    UnknownKindError,
)
from actors.messages import Envelope, Message, message_class

WIRE_VERSION = 1
_EXT_TORCH = 1
_EXT_NUMPY = 2
_TENSOR_HEAD = struct.Struct("<IBB")  # frame index, dtype code, ndim; then ndim int64 dims
_HEADER_LEN = 7

# Codes are part of the wire format: append, never renumber.
_DTYPES: tuple[torch.dtype, ...] = (
    torch.float32,
    torch.float64,
    torch.float16,
    torch.bfloat16,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.uint8,
    torch.bool,
    torch.complex64,
    torch.complex128,
)
_CODE_OF = {dtype: code for code, dtype in enumerate(_DTYPES)}
_ITEMSIZE = tuple(torch.empty((), dtype=d).element_size() for d in _DTYPES)
# numpy cannot hold bfloat16: its bytes travel through an int16 view.
_NUMPY_VIEW = {torch.bfloat16: torch.int16}
_NP_DTYPES = {
    code: np.dtype(torch.empty(0, dtype=d).numpy().dtype)
    for code, d in enumerate(_DTYPES)
    if d not in _NUMPY_VIEW
}


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
            return _tensor_ext(value, frames)
        if isinstance(value, np.ndarray):
            return _ndarray_ext(value, frames)
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


def _tensor_ext(tensor: torch.Tensor, frames: list[Any]) -> msgpack.ExtType:
    code = _CODE_OF.get(tensor.dtype)
    if code is None:
        raise EncodeError(f"dtype {tensor.dtype} is not in the wire's dtype table")
    try:
        frames.append(_as_array(tensor))
    except (RuntimeError, TypeError, ValueError) as exc:
        raise EncodeError(f"only dense CPU tensors go on the wire: {exc}") from exc
    return _ext(_EXT_TORCH, len(frames) - 1, code, tensor.shape)


def _as_array(tensor: torch.Tensor) -> np.ndarray:
    """A numpy view of the tensor's bytes (a copy only if it is not contiguous).

    This runs once per tensor per message, so it asks torch as little as
    possible: most state_dict tensors go straight to `.numpy()`.
    """
    if tensor.requires_grad:
        tensor = tensor.detach()
    if tensor.dim() == 0 or not tensor.is_contiguous():
        tensor = tensor.reshape(-1)  # a 0-d array is not a buffer everywhere
    view = _NUMPY_VIEW.get(tensor.dtype)
    if view is not None:
        tensor = tensor.view(view)
    try:
        return tensor.numpy()
    except RuntimeError:  # conjugate or negative bit set: materialize first
        return tensor.resolve_conj().resolve_neg().numpy()


def _ndarray_ext(array: np.ndarray, frames: list[Any]) -> msgpack.ExtType:
    try:
        code = _CODE_OF[torch.from_numpy(array[:0].copy()).dtype]
    except (TypeError, KeyError) as exc:
        raise EncodeError(f"numpy dtype {array.dtype} is not in the wire's dtype table") from exc
    frames.append(np.ascontiguousarray(array).reshape(-1))
    return _ext(_EXT_NUMPY, len(frames) - 1, code, array.shape)


_DIMS = [struct.Struct(f"<{n}q") for n in range(65)]  # one packer per rank, made once


def _ext(ext_code: int, index: int, dtype_code: int, shape: Sequence[int]) -> msgpack.ExtType:
    data = _TENSOR_HEAD.pack(index, dtype_code, len(shape)) + _DIMS[len(shape)].pack(*shape)
    return msgpack.ExtType(ext_code, data)


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
    def ext_hook(code: int, data: bytes) -> Any:
        return _rebuild_tensor(code, data, views, used)

    try:
        header = msgpack.unpackb(
            views[0], ext_hook=ext_hook, raw=False, strict_map_key=True, max_str_len=limits.max_string_bytes
        )
    except DecodeError:
        raise
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


def _rebuild_tensor(code: int, data: bytes, views: list[memoryview], used: set[int]) -> Any:
    if code not in (_EXT_TORCH, _EXT_NUMPY) or len(data) < _TENSOR_HEAD.size:
        raise MalformedEnvelopeError("a tensor reference", f"ext type {code} of {len(data)} bytes")
    index, dtype_code, ndim = _TENSOR_HEAD.unpack_from(data)
    if ndim >= len(_DIMS):
        raise MalformedEnvelopeError(f"a tensor of at most {len(_DIMS) - 1} dims", f"{ndim} dims")
    if len(data) != _TENSOR_HEAD.size + 8 * ndim:
        raise MalformedEnvelopeError(f"a tensor reference with {ndim} dims", f"{len(data)} bytes")
    shape = _DIMS[ndim].unpack_from(data, _TENSOR_HEAD.size)
    if not 1 <= index < len(views) or index in used:
        raise FrameCountError(
            f"an unused tensor frame in 1..{len(views) - 1}", f"a reference to frame {index}"
        )
    if dtype_code >= len(_DTYPES):
        raise UnknownDtypeError(f"a dtype code below {len(_DTYPES)}", str(dtype_code))
    if any(d < 0 for d in shape):
        raise TensorSizeError("non-negative dims", f"shape {list(shape)}")
    used.add(index)
    return _tensor_from_view(views[index], dtype_code, shape, numpy=code == _EXT_NUMPY)


def _tensor_from_view(view: memoryview, dtype_code: int, shape: tuple[int, ...], numpy: bool) -> Any:
    numel = math.prod(shape)
    expected = numel * _ITEMSIZE[dtype_code]
    if view.nbytes != expected:
        raise TensorSizeError(
            f"{expected} bytes for {_DTYPES[dtype_code]} of shape {list(shape)}", f"{view.nbytes} bytes"
        )
    if view.readonly:
        view = memoryview(bytearray(view))
    if numpy:
        return np.frombuffer(view, dtype=_NP_DTYPES[dtype_code]).reshape(shape)
    dtype = _DTYPES[dtype_code]
    if numel == 0:
        return torch.empty(shape, dtype=dtype)
    if dtype is torch.bfloat16:
        return torch.frombuffer(view, dtype=dtype).view(shape)
    # numpy's frombuffer + reshape + from_numpy is twice as fast as torch.frombuffer
    # + view for small tensors, and shares the same memory.
    return torch.from_numpy(np.frombuffer(view, dtype=_NP_DTYPES[dtype_code]).reshape(shape))


def build_message(kind: str, fields: dict[str, Any]) -> Message:
    """The message of `kind` with `fields`, checked as the decoder checks a received one.

    Relays use it to unwrap a message carried inside another (`Relayed`).

    Raises:
        UnknownKindError: `kind` is not registered.
        InvalidFieldError: a field is missing, unknown, or of the wrong type.
    """
    cls = message_class(kind)
    if cls is None:
        raise UnknownKindError("a registered message kind", repr(kind))
    unknown = fields.keys() - set(cls._fields)
    if unknown:
        raise InvalidFieldError(f"fields of {kind!r}: {list(cls._fields)}", f"unknown {sorted(unknown)}")
    missing = cls._required - fields.keys()
    if missing:
        raise InvalidFieldError(f"fields of {kind!r}: {sorted(cls._required)}", f"missing {sorted(missing)}")
    for name, value in fields.items():
        if not cls._checks[name](value):
            raise InvalidFieldError(f"{kind}.{name} as declared", f"{type(value).__name__} {value!r:.60}")
    return cls(**fields)


def tree_nbytes(tree: Any) -> int:
    """Bytes of every tensor and array in `tree` (what its frames would carry)."""
    if isinstance(tree, torch.Tensor):
        return tree.numel() * tree.element_size()
    if isinstance(tree, np.ndarray):
        return tree.nbytes
    if isinstance(tree, dict):
        return sum(tree_nbytes(v) for v in tree.values())
    if isinstance(tree, list | tuple):
        return sum(tree_nbytes(v) for v in tree)
    return 0
