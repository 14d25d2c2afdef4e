"""Multinomial logistic regression: one linear layer on the flattened input."""

from __future__ import annotations

import math

import torch
from torch import nn

from topologies.specs.model import LogRegModelSpec


class LogReg(nn.Module):
    """Logits = W flatten(x) + b; accepts any input shape."""

    def __init__(self, input_shape: tuple[int, ...], num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(math.prod(input_shape), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.linear(x.flatten(1))
        return logits


def build_logreg(spec: LogRegModelSpec, input_shape: tuple[int, ...], num_classes: int) -> LogReg:
    """Build from the spec (which has no parameters)."""
    return LogReg(input_shape, num_classes)
