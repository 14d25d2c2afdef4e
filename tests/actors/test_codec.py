"""The wire form: bit-exact round trips and one typed error per kind of bad input."""

from __future__ import annotations

import re
import struct

import msgpack
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.codec import WIRE_VERSION, DecodeLimits, decode, decode_tree, encode, encode_tree, wire_size
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
from actors.messages import Envelope
from tests.actors.messages_for_tests import Blob, Ping

DTYPES = [
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
]


@st.composite
def tensors(draw: st.DrawFn) -> torch.Tensor:
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=4)))
    numel = int(np.prod(shape)) if shape else 1
    itemsize = torch.empty((), dtype=dtype).element_size()
    raw = bytearray(draw(st.binary(min_size=numel * itemsize, max_size=numel * itemsize)))
    if dtype == torch.bool:
        raw = bytearray(b % 2 for b in raw)
    t = torch.frombuffer(raw, dtype=dtype).reshape(shape) if numel else torch.empty(shape, dtype=dtype)
    if len(shape) >= 2 and draw(st.booleans()):
        t = t.transpose(0, 1)  # non-contiguous
    return t


trees = st.recursive(
    tensors() | st.integers(-5, 5) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=8,
)


def same_tree(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.contiguous().reshape(-1).view(torch.uint8).tolist()
            == b.contiguous().reshape(-1).view(torch.uint8).tolist()
        )
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(same_tree(x, y) for x, y in zip(a, b, strict=True))
        )
    return a == b


def roundtrip(envelope: Envelope) -> Envelope:
    return decode([bytearray(f) for f in encode(envelope)])


@settings(max_examples=300, deadline=None)
@given(tree=trees)
def test_any_tree_of_tensors_round_trips_bit_for_bit(tree: object) -> None:
    envelope = Envelope("a", "b", Blob("x", tree), corr_id=9, flags=1)

    back = roundtrip(envelope)

    assert (back.sender, back.receiver, back.corr_id, back.flags) == ("a", "b", 9, 1)
    assert same_tree(tree, back.body.tree)


@settings(max_examples=100, deadline=None)
@given(tree=trees)
def test_any_tree_round_trips_bit_for_bit_without_an_envelope(tree: object) -> None:
    frames = encode_tree(tree)

    back = decode_tree([bytearray(f) for f in frames])

    assert same_tree(tree, back)


def test_a_tree_with_a_frame_its_header_does_not_list_is_refused() -> None:
    frames = [*encode_tree({"w": torch.zeros(2)}), b"extra"]

    with pytest.raises(FrameCountError, match="expected 1 tensor frame"):
        decode_tree(frames)


def test_nan_and_negative_zero_survive_bit_for_bit() -> None:
    t = torch.tensor([float("nan"), -0.0, float("inf")], dtype=torch.float32)

    back = roundtrip(Envelope("a", "b", Blob("x", t))).body.tree

    assert back.view(torch.int32).tolist() == t.view(torch.int32).tolist()


def test_numpy_arrays_come_back_as_numpy_arrays() -> None:
    arr = np.arange(12, dtype=np.int16).reshape(3, 4)

    back = roundtrip(Envelope("a", "b", Blob("x", {"a": arr}))).body.tree["a"]

    assert isinstance(back, np.ndarray)
    assert back.dtype == np.int16
    assert (back == arr).all()


def test_encoding_shares_tensor_memory_instead_of_copying() -> None:
    t = torch.arange(1000, dtype=torch.float32)

    frames = encode(Envelope("a", "b", Blob("x", t)))

    assert frames[1].__array_interface__["data"][0] == t.data_ptr()


def test_decoding_a_writable_frame_shares_its_memory() -> None:
    frames = [bytearray(f) for f in encode(Envelope("a", "b", Blob("x", torch.ones(4))))]

    t = decode(frames).body.tree
    frames[1][0:4] = struct.pack("<f", 7.0)

    assert t[0].item() == 7.0


def test_wire_size_counts_header_and_tensor_bytes() -> None:
    frames = encode(Envelope("a", "b", Blob("x", torch.zeros(250))))

    assert wire_size(frames) == len(frames[0]) + 1000


def test_cuda_like_or_unsupported_values_are_refused_at_encode() -> None:
    with pytest.raises(EncodeError, match="cannot put a object"):
        encode(Envelope("a", "b", Blob("x", object())))
    with pytest.raises(EncodeError, match="not in the wire's dtype table"):
        encode(Envelope("a", "b", Blob("x", torch.zeros(2, dtype=torch.float8_e4m3fn))))


# -- malformed input: each raises its own error -------------------------------


def header(kind: str = "test.ping", fields: object = None, version: int = WIRE_VERSION) -> list[object]:
    return [version, kind, "a", "b", 0, 0, {"n": 1} if fields is None else fields]


def tensor_ref(index: int, dtype_code: int, shape: tuple[int, ...]) -> msgpack.ExtType:
    return msgpack.ExtType(
        1, struct.pack("<IBB", index, dtype_code, len(shape)) + struct.pack(f"<{len(shape)}q", *shape)
    )


def blob_frames(ref: msgpack.ExtType, *tensor_frames: bytes) -> list[bytes]:
    return [msgpack.packb(header("test.blob", {"tag": "x", "tree": ref})), *tensor_frames]


@pytest.mark.parametrize(
    ("frames", "error", "message"),
    [
        ([], FrameCountError, "expected at least the header frame, got no frames"),
        ([msgpack.packb(header())[:-3]], TruncatedEnvelopeError, "a complete msgpack header"),
        ([b"\xc1\xc1garbage"], MalformedEnvelopeError, "expected a msgpack header"),
        (
            [msgpack.packb([1, 2, 3])],
            MalformedEnvelopeError,
            "expected a list of 7 header items, got list of length 3",
        ),
        ([msgpack.packb(header(version=99))], MalformedEnvelopeError, "expected wire version 1, got 99"),
        ([msgpack.packb(header(kind="nope"))], UnknownKindError, "got 'nope'"),
        (
            [msgpack.packb(header(fields={"n": "one"}))],
            InvalidFieldError,
            "invalid message field: test.ping.n: expected int, got str 'one'",
        ),
        ([msgpack.packb(header(fields={"n": 1, "x": 2}))], InvalidFieldError, "unknown ['x']"),
        ([msgpack.packb(header(fields={}))], InvalidFieldError, "missing ['n']"),
        (blob_frames(tensor_ref(1, 0, (2,)), b"\x00" * 8, b"extra"), FrameCountError, "got 2"),
        (blob_frames(tensor_ref(1, 0, (2,))), FrameCountError, "a reference to frame 1"),
        (blob_frames(tensor_ref(1, 200, (2,)), b"\x00" * 8), UnknownDtypeError, "got 200"),
        (
            blob_frames(tensor_ref(1, 0, (3,)), b"\x00" * 8),
            TensorSizeError,
            "test.blob.tree: expected float32 of shape [3] (12 bytes), got 8 bytes",
        ),
        (blob_frames(tensor_ref(1, 0, (-1,)), b"\x00" * 8), TensorSizeError, "non-negative dims"),
        (blob_frames(msgpack.ExtType(9, b"abc")), MalformedEnvelopeError, "ext type 9"),
        (blob_frames(tensor_ref(1, 0, (1,) * 65), b"\x00" * 4), MalformedEnvelopeError, "64 dims, got 65"),
    ],
)
def test_malformed_input_raises_its_own_typed_error(
    frames: list[bytes], error: type[DecodeError], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        decode(frames)


def test_oversize_frame_is_refused_by_the_limit() -> None:
    frames = encode(Envelope("a", "b", Blob("x", torch.zeros(1000))))

    with pytest.raises(
        OversizeFrameError, match="expected frames of at most 1000 bytes, got 4000 bytes in frame 1"
    ):
        decode(frames, DecodeLimits(max_frame_bytes=1000))


def test_too_many_frames_is_refused_by_the_limit() -> None:
    frames = encode(Envelope("a", "b", Blob("x", [torch.zeros(1)] * 5)))

    with pytest.raises(FrameCountError, match="at most 4 tensor frames"):
        decode(frames, DecodeLimits(max_frames=4))


def test_every_decode_error_is_a_decode_error_with_expected_and_got() -> None:
    with pytest.raises(DecodeError) as info:
        decode([msgpack.packb(header(kind="nope"))])

    assert info.value.expected == "a registered message kind"
    assert info.value.got == "'nope'"


def test_ping_round_trips_with_plain_fields() -> None:
    back = roundtrip(Envelope("a", "b", Ping(5)))

    assert back.body == Ping(5)
