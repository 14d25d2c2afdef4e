"""Tensors on the wire: the dtype table, a tensor's reference in the header, and its frame.

A tensor travels as a msgpack ext value (`EXT_TORCH` or `EXT_NUMPY`) whose data
is its frame index, dtype code and shape, and as its own frame of raw bytes,
sent without copying and rebuilt on the received buffer without copying.
`actors.codec` wraps these references in msgpack (the only module that imports it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from actors.errors import (
    EncodeError,
    FrameCountError,
    MalformedEnvelopeError,
    TensorSizeError,
    UnknownDtypeError,
)

EXT_TORCH = 1
EXT_NUMPY = 2
_TENSOR_HEAD = struct.Struct("<IBB")  # frame index, dtype code, ndim; then ndim int64 dims

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


TensorRef = tuple[int, bytes]  # (ext code, ext data): what msgpack carries for a tensor


def tensor_ref(tensor: torch.Tensor, frames: list[Any]) -> TensorRef:
    """Append `tensor`'s bytes to `frames` (no copy) and return its reference.

    Raises:
        EncodeError: a dtype outside the table, or a tensor that is not dense on the CPU.
    """
    code = _CODE_OF.get(tensor.dtype)
    if code is None:
        raise EncodeError(f"dtype {tensor.dtype} is not in the wire's dtype table")
    try:
        frames.append(_as_array(tensor))
    except (RuntimeError, TypeError, ValueError) as exc:
        raise EncodeError(f"only dense CPU tensors go on the wire: {exc}") from exc
    return _ref(EXT_TORCH, len(frames) - 1, code, tensor.shape)


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


def ndarray_ref(array: np.ndarray, frames: list[Any]) -> TensorRef:
    """As `tensor_ref`, for a numpy array.

    Raises:
        EncodeError: a dtype outside the table.
    """
    try:
        code = _CODE_OF[torch.from_numpy(array[:0].copy()).dtype]
    except (TypeError, KeyError) as exc:
        raise EncodeError(f"numpy dtype {array.dtype} is not in the wire's dtype table") from exc
    frames.append(np.ascontiguousarray(array).reshape(-1))
    return _ref(EXT_NUMPY, len(frames) - 1, code, array.shape)


_DIMS = [struct.Struct(f"<{n}q") for n in range(65)]  # one packer per rank, made once


def _ref(ext_code: int, index: int, dtype_code: int, shape: Sequence[int]) -> TensorRef:
    return ext_code, _TENSOR_HEAD.pack(index, dtype_code, len(shape)) + _DIMS[len(shape)].pack(*shape)


def rebuild_tensor(code: int, data: bytes, views: list[memoryview], used: set[int]) -> Any:
    """The tensor (or array) a reference stands for, on its frame's memory; marks the frame used.

    Raises:
        MalformedEnvelopeError: not a tensor reference.
        FrameCountError: it names no frame, or one already used.
        UnknownDtypeError: its dtype code is not in the table.
        TensorSizeError: the frame's length is not dtype size × shape.
    """
    if code not in (EXT_TORCH, EXT_NUMPY) or len(data) < _TENSOR_HEAD.size:
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
    return _tensor_from_view(views[index], dtype_code, shape, numpy=code == EXT_NUMPY)


def _tensor_from_view(view: memoryview, dtype_code: int, shape: tuple[int, ...], numpy: bool) -> Any:
    numel = math.prod(shape)
    expected = numel * _ITEMSIZE[dtype_code]
    if view.nbytes != expected:
        dtype_name = str(_DTYPES[dtype_code]).removeprefix("torch.")
        raise TensorSizeError(
            f"{dtype_name} of shape {list(shape)} ({expected} bytes)", f"{view.nbytes} bytes"
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
