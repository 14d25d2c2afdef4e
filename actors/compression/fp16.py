"""fp16: every float sent as IEEE half precision (2 bytes a value, relative error ≤ 2^-11).

Half precision is the usual first step of communication compression in FL
frameworks (FedML, Plato); it needs no state and no randomness. Values beyond
fp16's range (±65504) saturate to ±inf, as a cast does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from actors.compression.base import SchemeConfig, expect_tensor
from actors.lazy import LazyModule

if TYPE_CHECKING:
    import torch
else:
    torch = LazyModule("torch")  # only when a message is compressed: the schema imports these configs


class Fp16Config(SchemeConfig):
    """`codec = { kind = "fp16" }`."""

    kind: Literal["fp16"] = "fp16"

    def build(self) -> Fp16:
        return Fp16()


class Fp16:
    """Casts to float16 on send, back to float32 on receipt."""

    def encode(self, name: str, tensor: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
        return {"h": tensor.detach().reshape(-1).to(torch.float16)}

    def decode(self, payload: dict[str, Any], numel: int) -> torch.Tensor:
        return expect_tensor(payload, "h", torch.float16, numel).to(torch.float32)
