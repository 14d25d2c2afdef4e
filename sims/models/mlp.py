"""Multi-layer perceptron on the flattened input."""

from __future__ import annotations

import itertools
import math

from torch import nn

from topologies.specs.model import MlpModelSpec

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


def build_mlp(spec: MlpModelSpec, input_shape: tuple[int, ...], num_classes: int) -> nn.Sequential:
    """Flatten, then Linear + activation for each width in `spec.hidden`, then Linear to logits."""
    widths = [math.prod(input_shape), *spec.hidden]
    layers: list[nn.Module] = [nn.Flatten()]
    for width_in, width_out in itertools.pairwise(widths):
        layers += [nn.Linear(width_in, width_out), _ACTIVATIONS[spec.activation]()]
    layers.append(nn.Linear(widths[-1], num_classes))
    return nn.Sequential(*layers)
