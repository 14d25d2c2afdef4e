"""`EdgeCodecs`: which directed edges compress, and the node's two hooks.

`compress` runs where the node routes a message (before the link model
charges its bytes and before the codec encodes it); `expand` runs before the
receiving actor's handler, on any node, from what the message itself says.
Only `Task` and `Update` weights are compressed; other messages, and messages
a relay wraps, travel as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import torch
from pydantic import ValidationError

from actors.codec import build_message, tree_nbytes
from actors.compression import CODEC_SPEC
from actors.compression.base import (
    Compressed,
    CompressionDecodeError,
    Scheme,
    SchemeConfig,
    message_seed,
    numel_of,
)
from actors.errors import EncodeError
from actors.messages import Envelope, Message
from actors.protocol import Task, Update

Edge = tuple[str, str]  # (sender, receiver)


class EdgeCodecs:
    """The schemes of a run's compressed edges, each built once (a scheme may keep a residual).

    Args:
        edges: (sender, receiver) -> the scheme's config.
        seed: the run's seed; each message's rounding derives from it, its edge and its task id.
    """

    def __init__(self, edges: Mapping[Edge, SchemeConfig], seed: int) -> None:
        self.configs = dict(edges)
        self.seed = seed
        self._schemes: dict[Edge, Scheme] = {}

    def compress(self, envelope: Envelope) -> tuple[Envelope, dict[str, Any]] | None:
        """The envelope with its weights compressed, and the fields of its `message_compressed`
        event (receiver, kind, scheme, `bytes`: the payload's tensor bytes, `dense_bytes`: the
        weights' own); None when its edge or its kind is not compressed.

        Raises:
            EncodeError: the scheme needs a delta and the update holds full weights.
        """
        body = envelope.body
        config = self.configs.get((envelope.sender, envelope.receiver))
        if config is None or not isinstance(body, Task | Update):
            return None
        if config.needs_delta and not (isinstance(body, Update) and body.is_delta):
            raise EncodeError(
                f"{config.kind} on {envelope.sender} -> {envelope.receiver} needs a delta, "
                f"and {body.kind} carries full weights"
            )
        scheme = self._schemes.setdefault((envelope.sender, envelope.receiver), config.build())
        seed = message_seed(self.seed, envelope.sender, envelope.receiver, body.task_id)
        gen = torch.Generator().manual_seed(seed)
        weights = {name: _encode_one(scheme, name, t, gen) for name, t in _flat(body.weights).items()}
        fields = {**body.to_fields(), "weights": weights}
        wrapped = Compressed(config.model_dump(), body.kind, fields)
        sent = Envelope(envelope.sender, envelope.receiver, wrapped, envelope.corr_id, envelope.flags)
        event = {"receiver": envelope.receiver, "kind": body.kind, "scheme": config.kind}
        return sent, {**event, "bytes": tree_nbytes(weights), "dense_bytes": tree_nbytes(body.weights)}


def expand(compressed: Compressed) -> Message:
    """The message a `Compressed` carries, with dense float32 weights.

    Raises:
        CompressionDecodeError: the scheme, a tensor's payload or the carried message is malformed.
        InvalidFieldError, UnknownKindError: as `build_message` raises for the carried message.
    """
    try:
        config = CODEC_SPEC.validate_python(compressed.scheme)
    except ValidationError as exc:
        raise CompressionDecodeError("a known scheme's config", str(exc).splitlines()[0]) from exc
    if compressed.body_kind not in (Task.kind, Update.kind):
        raise CompressionDecodeError("a compressed fl.task or fl.update", repr(compressed.body_kind)[:60])
    weights = compressed.body.get("weights")
    if not isinstance(weights, dict):
        raise CompressionDecodeError("weights as {name: payload}", type(weights).__name__)
    scheme = config.build()
    dense = {name: _decode_one(scheme, name, payload) for name, payload in weights.items()}
    return build_message(compressed.body_kind, {**compressed.body, "weights": dense})


def _flat(weights: Any) -> dict[str, torch.Tensor]:
    if not isinstance(weights, dict) or not all(isinstance(v, torch.Tensor) for v in weights.values()):
        raise EncodeError("compression takes weights as a flat {name: tensor} state_dict")
    return weights


def _encode_one(scheme: Scheme, name: str, tensor: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
    if not tensor.is_floating_point():
        return {"shape": list(tensor.shape), "raw": tensor}
    return {"shape": list(tensor.shape), "data": scheme.encode(name, tensor, gen)}


def _decode_one(scheme: Scheme, name: str, payload: Any) -> torch.Tensor:
    if not isinstance(payload, dict):
        raise CompressionDecodeError(f"a payload dict for {name!r}", type(payload).__name__)
    shape = payload.get("shape")
    numel = numel_of(shape)
    if "raw" in payload:
        raw = payload["raw"]
        if not isinstance(raw, torch.Tensor) or list(raw.shape) != shape:
            raise CompressionDecodeError(f"{name!r} raw of shape {shape}", repr(raw)[:60])
        return raw
    data = payload.get("data")
    if not isinstance(data, dict):
        raise CompressionDecodeError(f"{name!r}: a data dict", type(data).__name__)
    return scheme.decode(data, numel).view(cast("list[int]", shape))  # numel_of checked it is one
