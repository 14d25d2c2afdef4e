"""`EdgeCodecs`: which directed edges compress, and the node's two hooks.

`compress` runs where the node routes a message (before the link model
charges its bytes and before the codec encodes it); `expand` runs before the
receiving actor's handler (or before an ask's caller gets its reply), on any
node, from what the message itself says. The weights of `Task`, `Update`, the
gossip models (`Gossip`, `PushPull`, asked and replied) and the tasks and
updates a relay carries (`Relayed`) are compressed; other messages travel as
they are.
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
from actors.protocol import Gossip, PushPull, Relayed, Task, Update

Edge = tuple[str, str]  # (sender, receiver)
WEIGHTED = (Task, Update, Gossip, PushPull)


class EdgeCodecs:
    """The schemes of a run's compressed edges, each built once (a scheme may keep a residual).

    Args:
        edges: (sender, receiver) -> the scheme's config.
        seed: the run's seed; each message's rounding derives from it, its edge and its task id.
    """

    def __init__(self, edges: Mapping[Edge, SchemeConfig], seed: int) -> None:
        self.configs = dict(edges)
        self.seed = seed
        self._schemes: dict[tuple[str, ...], Scheme] = {}
        self._counts: dict[Edge, int] = {}

    def compress(self, envelope: Envelope) -> tuple[Envelope, dict[str, Any]] | None:
        """The envelope with its weights compressed, and the fields of its `message_compressed`
        event (receiver, kind, scheme, `bytes`: the payload's tensor bytes, `dense_bytes`: the
        weights' own; `child` for a relayed message); None when its edge or its kind is not compressed.

        Raises:
            EncodeError: the scheme needs a delta and the update holds full weights.
        """
        edge = (envelope.sender, envelope.receiver)
        config = self.configs.get(edge)
        body = envelope.body
        if config is None:
            return None
        if isinstance(body, Relayed):
            return self._compress_relayed(envelope, config)
        if not isinstance(body, WEIGHTED):
            return None
        wrapped, nbytes = self._wrap(
            edge, edge, config, body.kind, body.to_fields(), self._message_id(edge, body)
        )
        sent = Envelope(envelope.sender, envelope.receiver, wrapped, envelope.corr_id, envelope.flags)
        event = {"receiver": envelope.receiver, "kind": body.kind, "scheme": config.kind}
        return sent, {**event, "bytes": nbytes, "dense_bytes": tree_nbytes(body.weights)}

    def _compress_relayed(
        self, envelope: Envelope, config: SchemeConfig
    ) -> tuple[Envelope, dict[str, Any]] | None:
        """A relayed task or update: its carried weights, with the child's own scheme state."""
        relayed = envelope.body
        assert isinstance(relayed, Relayed)
        carried = relayed.body
        if not isinstance(carried, Task | Update):
            return None
        edge = (envelope.sender, envelope.receiver)
        fields = carried.to_fields()
        state = (*edge, relayed.child)
        wrapped, nbytes = self._wrap(edge, state, config, carried.kind, fields, carried.task_id)
        body = Relayed(relayed.child, wrapped)
        sent = Envelope(envelope.sender, envelope.receiver, body, envelope.corr_id, envelope.flags)
        dense = tree_nbytes(carried.weights)
        event = {"receiver": envelope.receiver, "kind": carried.kind, "scheme": config.kind}
        return sent, {**event, "child": relayed.child, "bytes": nbytes, "dense_bytes": dense}

    def _wrap(
        self,
        edge: Edge,
        state: tuple[str, ...],
        config: SchemeConfig,
        kind: str,
        fields: dict[str, Any],
        message_id: int,
    ) -> tuple[Compressed, int]:
        """The `Compressed` carrying message `kind`'s `fields`, and its payload's tensor bytes;
        `state` names the scheme instance (an edge's, or a relayed child's on that edge).

        Raises:
            EncodeError: the scheme needs a delta and these are full weights.
        """
        if config.needs_delta and not (kind == Update.kind and fields.get("is_delta") is True):
            raise EncodeError(
                f"{config.kind} on {edge[0]} -> {edge[1]} needs a delta, and {kind} carries full weights"
            )
        scheme = self._schemes.setdefault(state, config.build())
        gen = torch.Generator().manual_seed(message_seed(self.seed, edge[0], edge[1], message_id))
        weights = {
            name: _encode_one(scheme, name, t, gen) for name, t in _flat(fields.get("weights")).items()
        }
        return Compressed(config.model_dump(), kind, {**fields, "weights": weights}), tree_nbytes(weights)

    def _message_id(self, edge: Edge, body: Message) -> int:
        """What seeds a message's rounding with its edge: a task's id, a gossip step, else
        the edge's count of compressed messages (deterministic in a simulation)."""
        if isinstance(body, Task | Update):
            return body.task_id
        if isinstance(body, Gossip):
            return body.round
        self._counts[edge] = self._counts.get(edge, 0) + 1
        return self._counts[edge]


def is_compressed(body: Message) -> bool:
    """Whether the node must expand `body` before a handler sees it."""
    return isinstance(body, Compressed) or (isinstance(body, Relayed) and isinstance(body.body, Compressed))


def expand_any(body: Message) -> Message:
    """`body` with dense weights: a `Compressed` expanded, or a `Relayed` whose carried message is.

    Raises:
        CompressionDecodeError, InvalidFieldError, UnknownKindError: as `expand` raises.
    """
    if isinstance(body, Relayed):
        assert isinstance(body.body, Compressed)
        inner = expand(body.body)
        if not isinstance(inner, Task | Update):
            raise CompressionDecodeError("a relayed task or update", inner.kind)
        return Relayed(body.child, inner)
    assert isinstance(body, Compressed)
    return expand(body)


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
    if compressed.body_kind not in {kind.kind for kind in WEIGHTED}:
        raise CompressionDecodeError(
            "a compressed task, update or gossip model", repr(compressed.body_kind)[:60]
        )
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
