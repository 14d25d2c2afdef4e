"""QSGD: stochastic quantization to `bits` bits a value (Alistarh et al. 2017).

Alistarh, Grubic, Li, Tomioka, Vojnovic, "QSGD: Communication-Efficient SGD
via Gradient Quantization and Encoding", NeurIPS 2017. Each bucket of
`bucket_size` values v is sent as its L2 norm and, per value, a sign and a
level in {0, 1/s, …, 1}, with s = 2^(bits−1) − 1 levels a sign:

    Q(v_i) = ‖v‖ · sgn(v_i) · ξ_i,   ξ_i = (l + 1)/s with probability |v_i|/‖v‖·s − l, else l/s,

where l = ⌊|v_i|/‖v‖·s⌋. Q is unbiased (E[Q(v)] = v) and off by less than
‖v‖/s in each value. Signed levels travel packed, 8/bits of them a byte, so a
tensor of n values costs ⌈n·bits/8⌉ bytes plus 4 bytes a bucket for the norms
(the paper's Elias coding of levels is not used: fixed width keeps the size
exact and the decode a few vector operations). The paper's experiments use
buckets of 512 values for 4-bit QSGD, the default here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from actors.compression.base import CompressionDecodeError, SchemeConfig, expect_tensor
from actors.lazy import LazyModule

if TYPE_CHECKING:
    import torch
else:
    torch = LazyModule("torch")  # only when a message is compressed: the schema imports these configs


class QsgdConfig(SchemeConfig):
    """`codec = { kind = "qsgd", bits = 8 }`.

    Attributes:
        bits: bits a value: 2, 4 or 8 (1, 7 or 127 levels a sign).
        bucket_size: values sharing one norm; smaller buckets, less variance, more norms.
    """

    kind: Literal["qsgd"] = "qsgd"
    bits: Literal[2, 4, 8] = 8
    bucket_size: int = Field(default=512, ge=1, le=1 << 24)

    def build(self) -> Qsgd:
        return Qsgd(self.bits, self.bucket_size)


class Qsgd:
    """QSGD's quantizer for one edge (stateless; randomness from the message's generator)."""

    def __init__(self, bits: int, bucket_size: int) -> None:
        self.bits = bits
        self.levels = (1 << (bits - 1)) - 1
        self.bucket_size = bucket_size

    def encode(self, name: str, tensor: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
        flat = tensor.detach().reshape(-1).to(torch.float32)
        buckets = _padded(flat, self.bucket_size).view(-1, self.bucket_size)
        norms = torch.linalg.vector_norm(buckets, dim=1)
        scaled = buckets.abs() / torch.where(norms > 0, norms, 1.0).unsqueeze(1) * self.levels
        floor = scaled.floor()
        up = torch.rand(scaled.shape, generator=gen) < (scaled - floor)
        level = (floor + up).clamp(max=self.levels) * buckets.sign()
        codes = (level.reshape(-1)[: flat.numel()] + self.levels).to(torch.uint8)
        return {"norms": norms, "q": _pack(codes, self.bits)}

    def decode(self, payload: dict[str, Any], numel: int) -> torch.Tensor:
        buckets = -(-numel // self.bucket_size)
        norms = expect_tensor(payload, "norms", torch.float32, buckets)
        packed = expect_tensor(payload, "q", torch.uint8, -(-numel * self.bits // 8))
        codes = _unpack(packed, self.bits, numel).to(torch.float32) - self.levels
        if codes.numel() and codes.abs().max() > self.levels:
            raise CompressionDecodeError(f"levels within ±{self.levels}", f"{codes.abs().max():.0f}")
        scale = (norms / self.levels).repeat_interleave(self.bucket_size)[:numel]
        return codes * scale


def _padded(flat: torch.Tensor, multiple: int) -> torch.Tensor:
    pad = -flat.numel() % multiple
    return torch.cat([flat, flat.new_zeros(pad)]) if pad else flat


def _pack(codes: torch.Tensor, bits: int) -> torch.Tensor:
    """`8 // bits` codes a byte, the first in the low bits."""
    per = 8 // bits
    grid = _padded(codes, per).view(-1, per).to(torch.int32)
    shifts = torch.arange(per, dtype=torch.int32) * bits
    return (grid << shifts).sum(dim=1).to(torch.uint8)


def _unpack(packed: torch.Tensor, bits: int, numel: int) -> torch.Tensor:
    per = 8 // bits
    shifts = torch.arange(per, dtype=torch.int32) * bits
    codes = (packed.to(torch.int32).unsqueeze(1) >> shifts) & ((1 << bits) - 1)
    return codes.reshape(-1)[:numel]
