"""Compression of the weights messages carry, per directed edge (see docs/topology.md, `[compression]`).

Schemes, one a file: `fp16`, `qsgd` (Alistarh et al. 2017) and `topk` with
error feedback (Stich et al. 2018; Karimireddy et al. 2019). `EdgeCodecs` is
what a node applies when it routes a `Task` or an `Update`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter

from actors.compression.base import Compressed, CompressionDecodeError, SchemeConfig
from actors.compression.fp16 import Fp16Config
from actors.compression.qsgd import QsgdConfig
from actors.compression.topk import TopkConfig

CodecSpec = Annotated[Fp16Config | QsgdConfig | TopkConfig, Field(discriminator="kind")]
CODEC_SPEC: TypeAdapter[SchemeConfig] = TypeAdapter(CodecSpec)

__all__ = [
    "CODEC_SPEC",
    "CodecSpec",
    "Compressed",
    "CompressionDecodeError",
    "Fp16Config",
    "QsgdConfig",
    "SchemeConfig",
    "TopkConfig",
]
