"""What every compression scheme shares: its config base, its wire form, and the `Compressed` message.

A scheme turns each float tensor of a message's weights into a small payload
(a dict of tensors and numbers the codec carries as frames) and back into a
dense float32 tensor. Tensors that are not floating point (counters, masks)
travel as they are. Compression happens where the node routes a message, so
the bytes encoded for the wire, and the bytes the link models charge, are the
payload's; the receiving node expands it before any handler sees it.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from actors.errors import DecodeError
from actors.lazy import LazyModule
from actors.messages import Message, message

if TYPE_CHECKING:
    import torch
else:
    torch = LazyModule("torch")  # only when a message is compressed: the schema imports these configs


class CompressionDecodeError(DecodeError):
    """A compressed payload from a peer does not describe the tensor it claims to."""

    what = "undecodable compressed weights"


class SchemeConfig(BaseModel):
    """Base of each scheme's config (the `codec = { kind = ... }` table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: The scheme compresses a delta (update − base model); on full weights it is meaningless.
    needs_delta: ClassVar[bool] = False

    if TYPE_CHECKING:  # each scheme declares its own `kind` Literal; the type checker sees it here
        kind: str

    def build(self) -> Scheme:
        """A fresh scheme for one directed edge (it may hold state across messages)."""
        raise NotImplementedError


class Scheme(Protocol):
    """One directed edge's compressor."""

    def encode(self, name: str, tensor: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
        """The payload for the float tensor `name` (`gen`: this message's seeded randomness)."""
        ...

    def decode(self, payload: dict[str, Any], numel: int) -> torch.Tensor:
        """The dense float32 values (flat, `numel` of them) a payload stands for.

        Raises:
            CompressionDecodeError: the payload does not fit `numel` values.
        """
        ...


@message("wire.compressed")
class Compressed(Message):
    """A message whose `weights` travel compressed.

    Attributes:
        scheme: the scheme's config (`{"kind": "qsgd", "bits": 4, ...}`): all a receiver needs to decode.
        body_kind: the carried message's kind (`fl.task`, `fl.update`).
        body: its fields, `weights` replaced by `{name: {"shape", "raw" | "data"}}`.
    """

    scheme: dict[str, Any]
    body_kind: str
    body: dict[str, Any]


def message_seed(seed: int, sender: str, receiver: str, task_id: int) -> int:
    """The seed of one message's stochastic rounding: the same run seed, edge and task
    give the same draws whatever else happens in the run (no shared generator)."""
    key = f"{seed}\0{sender}\0{receiver}\0{task_id}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


def expect_tensor(payload: dict[str, Any], key: str, dtype: torch.dtype, numel: int) -> torch.Tensor:
    """`payload[key]`, checked to be a flat tensor of `dtype` with `numel` values.

    Raises:
        CompressionDecodeError: it is missing, or of another type, dtype or size.
    """
    value: Any = payload.get(key)  # a peer's value: any type until checked
    if not isinstance(value, torch.Tensor) or value.dtype != dtype or value.numel() != numel:
        is_tensor = isinstance(value, torch.Tensor)
        got = f"{value.dtype} of {value.numel()} values" if is_tensor else repr(value)[:60]
        raise CompressionDecodeError(f"{key!r}: {dtype} of {numel} values", got)
    return value.reshape(-1)


def numel_of(shape: Any) -> int:
    """Values of a tensor of `shape` as a payload states it.

    Raises:
        CompressionDecodeError: `shape` is not a list of non-negative ints.
    """
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise CompressionDecodeError("a shape as a list of non-negative ints", repr(shape)[:60])
    return math.prod(shape)
