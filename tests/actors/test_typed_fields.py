"""Typed wire trees: the decoder checks weights are `dict[str, Tensor]`, decodes a
`Relayed` body once as the message it names, and says where a bad field is."""

from __future__ import annotations

import struct

import msgpack
import pytest
import torch

from actors.codec import WIRE_VERSION, build_message, decode, encode
from actors.errors import InvalidFieldError, TensorSizeError
from actors.messages import Envelope
from actors.protocol import Join, Relayed, Task, Update


def tensor_ref(index: int, shape: tuple[int, ...]) -> msgpack.ExtType:
    return msgpack.ExtType(
        1, struct.pack("<IBB", index, 0, len(shape)) + struct.pack(f"<{len(shape)}q", *shape)
    )


def frames_of(kind: str, fields: dict[str, object], *tensor_frames: bytes) -> list[bytes]:
    return [msgpack.packb([WIRE_VERSION, kind, "a", "b", 0, 0, fields]), *tensor_frames]


def task_fields(weights: object) -> dict[str, object]:
    return {"task_id": 1, "version": 0, "weights": weights}


def test_a_tensor_of_the_wrong_size_is_named_by_its_key_in_the_weights() -> None:
    frames = frames_of("fl.task", task_fields({"fc.bias": tensor_ref(1, (10,))}), b"\x00" * 36)

    with pytest.raises(TensorSizeError) as caught:
        decode(frames)

    assert str(caught.value) == (
        "tensor bytes do not match dtype and shape: "
        "fl.task.weights['fc.bias']: expected float32 of shape [10] (40 bytes), got 36 bytes"
    )
    assert caught.value.path == "fl.task.weights['fc.bias']"


def test_a_weight_that_is_not_a_tensor_is_refused_with_its_path() -> None:
    frames = frames_of("fl.task", task_fields({"fc.weight": tensor_ref(1, (1,)), "fc.bias": 3}), b"\x00" * 4)

    with pytest.raises(InvalidFieldError) as caught:
        decode(frames)

    assert (
        str(caught.value) == "invalid message field: fl.task.weights['fc.bias']: expected Tensor, got int 3"
    )


def test_weights_that_are_not_a_dict_are_refused() -> None:
    frames = frames_of("fl.task", task_fields([tensor_ref(1, (1,))]), b"\x00" * 4)

    with pytest.raises(InvalidFieldError) as caught:
        decode(frames)

    assert str(caught.value).startswith("invalid message field: fl.task.weights: expected dict, got list [")


def test_a_relayed_message_is_decoded_once_as_the_message_it_carries() -> None:
    update = Update(4, 2, {"w": torch.arange(3.0)}, True, 10, 0.5, 1.25)
    frames = encode(Envelope("relay", "server", Relayed("client-7", update)))

    back = decode([bytearray(f) for f in frames]).body

    assert isinstance(back, Relayed)
    assert isinstance(back.body, Update)
    assert back.child == "client-7"
    assert (back.body.task_id, back.body.base_version, back.body.num_samples) == (4, 2, 10)
    assert back.body.weights["w"].tolist() == [0.0, 1.0, 2.0]


def test_a_relayed_message_keeps_its_wire_form_kind_then_fields() -> None:
    frames = encode(Envelope("relay", "server", Relayed("client-7", Join(5))))

    header = msgpack.unpackb(frames[0], raw=False)

    assert header == [WIRE_VERSION, "fl.relayed", "relay", "server", 0, 0, {
        "child": "client-7", "body_kind": "fl.join", "body": {"num_samples": 5, "capabilities": None}
    }]  # fmt: skip


def test_a_relayed_kind_outside_its_union_is_refused() -> None:
    frames = frames_of("fl.relayed", {"child": "c", "body_kind": "fl.evaluation", "body": {}})

    with pytest.raises(InvalidFieldError) as caught:
        decode(frames)

    assert str(caught.value) == (
        "invalid message field: fl.relayed.body_kind: expected one of "
        "['fl.cancel', 'fl.join', 'fl.leave', 'fl.task', 'fl.update', 'wire.compressed'], "
        "got str 'fl.evaluation'"
    )


def test_a_bad_field_inside_a_relayed_message_is_named_from_the_relayed() -> None:
    inner = {"num_samples": "many"}

    with pytest.raises(InvalidFieldError) as caught:
        build_message("fl.relayed", {"child": "c", "body_kind": "fl.join", "body": inner})

    assert (
        str(caught.value)
        == "invalid message field: fl.relayed.body.num_samples: expected int, got str 'many'"
    )


def test_a_relayed_message_missing_fields_of_its_body_says_which() -> None:
    with pytest.raises(InvalidFieldError) as caught:
        build_message("fl.relayed", {"child": "c", "body_kind": "fl.task", "body": {"task_id": 1}})

    assert str(caught.value) == (
        "invalid message field: fl.relayed.body: expected fields of 'fl.task': "
        "['task_id', 'version', 'weights'], got missing ['version', 'weights']"
    )


def test_a_wrong_sized_tensor_inside_a_relayed_task_is_named_from_the_relayed() -> None:
    body = task_fields({"w": tensor_ref(1, (2,))})
    frames = frames_of("fl.relayed", {"child": "c", "body_kind": "fl.task", "body": body}, b"\x00" * 4)

    with pytest.raises(TensorSizeError, match=r"fl\.relayed\.body\.weights\['w'\]: expected float32"):
        decode(frames)


def test_a_task_built_from_checked_fields_is_the_task() -> None:
    weights = {"w": torch.zeros(2)}

    task = build_message("fl.task", task_fields(weights))

    assert task == Task(1, 0, weights)
