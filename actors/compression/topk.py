"""Top-k sparsification with error feedback (Stich et al. 2018; Karimireddy et al. 2019).

Stich, Cordonnier, Jaggi, "Sparsified SGD with Memory", NeurIPS 2018;
Karimireddy, Rebjock, Stich, Jaggi, "Error Feedback Fixes SignSGD and other
Gradient Compression Schemes", ICML 2019. Of each tensor's update u the sender
adds its residual r (what earlier messages on this edge left out), sends the
k = ⌈fraction·n⌉ entries of e = u + r largest in magnitude, and keeps the rest:

    e = u + r;   sent = top_k(e);   r ← e − sent

so nothing is lost, only late. The residual lives in the sender's edge (the
client's, kept across its tasks), one tensor a weight name. A tensor of n
values costs 8k bytes: int32 indices and float32 values. It only means
something for deltas: the node refuses it on a message of full weights.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from actors.compression.base import CompressionDecodeError, SchemeConfig, expect_tensor
from actors.lazy import LazyModule

if TYPE_CHECKING:
    import torch
else:
    torch = LazyModule("torch")  # only when a message is compressed: the schema imports these configs


class TopkConfig(SchemeConfig):
    """`codec = { kind = "topk", fraction = 0.01 }`.

    Attributes:
        fraction: share of each tensor's values sent, in (0, 1].
        error_feedback: keep what was not sent and add it to the next message.
    """

    kind: Literal["topk"] = "topk"
    fraction: float = Field(default=0.01, gt=0, le=1)
    error_feedback: bool = True

    needs_delta = True

    def build(self) -> Topk:
        return Topk(self.fraction, self.error_feedback)


class Topk:
    """Top-k for one edge, holding the edge's residuals."""

    def __init__(self, fraction: float, error_feedback: bool) -> None:
        self.fraction = fraction
        self.error_feedback = error_feedback
        self.residual: dict[str, torch.Tensor] = {}

    def keep(self, numel: int) -> int:
        """k for a tensor of `numel` values."""
        return min(numel, math.ceil(self.fraction * numel))

    def encode(self, name: str, tensor: torch.Tensor, gen: torch.Generator) -> dict[str, Any]:
        wanted = tensor.detach().reshape(-1).to(torch.float32)
        residual = self.residual.get(name)
        if residual is not None and residual.numel() == wanted.numel():
            wanted = wanted + residual
        index = torch.topk(wanted.abs(), self.keep(wanted.numel()), sorted=False).indices.sort().values
        values = wanted[index]
        if self.error_feedback:
            left = wanted.clone()
            left[index] = 0.0
            self.residual[name] = left
        return {"i": index.to(torch.int32), "v": values}

    def decode(self, payload: dict[str, Any], numel: int) -> torch.Tensor:
        k = self.keep(numel)
        index = expect_tensor(payload, "i", torch.int32, k).to(torch.int64)
        values = expect_tensor(payload, "v", torch.float32, k)
        if k and (index.min() < 0 or index.max() >= numel):
            raise CompressionDecodeError(f"indices in [0, {numel})", f"{index.min()}..{index.max()}")
        dense = torch.zeros(numel, dtype=torch.float32)
        dense[index] = values
        return dense
