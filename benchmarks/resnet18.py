"""ResNet-18's state_dict, built by hand from random tensors (torchvision is not a dependency).

The shapes are torchvision's `resnet18()`: 62 parameters holding 11,689,512
floats, plus three buffers per BatchNorm (running mean, running variance and
the int64 `num_batches_tracked`), 122 entries in all, ≈46.8 MB.
"""

from __future__ import annotations

import torch

StateDict = dict[str, torch.Tensor]
_BUFFER_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
_STAGES = (64, 128, 256, 512)


def resnet18_state_dict(width: int = 64, scale: int = 1, seed: int = 0) -> StateDict:
    """ResNet-18's state_dict with random values.

    Args:
        width: channels of the stem (64 in the real network; smaller for smoke tests).
        scale: every tensor is `scale` times larger: its first dim is multiplied
            (a 0-d tensor becomes 1-d of length `scale`).
        seed: seeds the values.
    """
    make = _Maker(torch.Generator().manual_seed(seed), scale)
    stages = [width * c // 64 for c in _STAGES]
    sd: StateDict = {"conv1.weight": make.floats(stages[0], 3, 7, 7)}
    sd |= _batch_norm(make, "bn1", stages[0])
    in_ch = stages[0]
    for stage, out_ch in enumerate(stages, start=1):
        for block in range(2):
            sd |= _basic_block(make, f"layer{stage}.{block}", in_ch, out_ch)
            in_ch = out_ch
    sd["fc.weight"] = make.floats(1000, stages[-1])
    sd["fc.bias"] = make.floats(1000)
    return sd


def parameters_only(sd: StateDict) -> StateDict:
    """The entries that are parameters (what `named_parameters()` holds): no BatchNorm buffers."""
    return {k: v for k, v in sd.items() if not k.endswith(_BUFFER_SUFFIXES)}


def nbytes(sd: StateDict) -> int:
    return sum(t.numel() * t.element_size() for t in sd.values())


class _Maker:
    def __init__(self, generator: torch.Generator, scale: int) -> None:
        self.generator = generator
        self.scale = scale

    def floats(self, *shape: int) -> torch.Tensor:
        return torch.randn(self._scaled(shape), generator=self.generator)

    def counter(self) -> torch.Tensor:
        return torch.full(self._scaled(()), 500, dtype=torch.int64)

    def _scaled(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if self.scale == 1:
            return shape
        return (shape[0] * self.scale, *shape[1:]) if shape else (self.scale,)


def _batch_norm(make: _Maker, prefix: str, channels: int) -> StateDict:
    return {
        f"{prefix}.weight": make.floats(channels),
        f"{prefix}.bias": make.floats(channels),
        f"{prefix}.running_mean": make.floats(channels),
        f"{prefix}.running_var": make.floats(channels).abs(),
        f"{prefix}.num_batches_tracked": make.counter(),
    }


def _basic_block(make: _Maker, prefix: str, in_ch: int, out_ch: int) -> StateDict:
    sd: StateDict = {f"{prefix}.conv1.weight": make.floats(out_ch, in_ch, 3, 3)}
    sd |= _batch_norm(make, f"{prefix}.bn1", out_ch)
    sd[f"{prefix}.conv2.weight"] = make.floats(out_ch, out_ch, 3, 3)
    sd |= _batch_norm(make, f"{prefix}.bn2", out_ch)
    if in_ch != out_ch:  # the first block of layers 2-4 halves the resolution: a 1×1 conv shortcut
        sd[f"{prefix}.downsample.0.weight"] = make.floats(out_ch, in_ch, 1, 1)
        sd |= _batch_norm(make, f"{prefix}.downsample.1", out_ch)
    return sd
