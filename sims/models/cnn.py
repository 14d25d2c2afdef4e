"""A small CNN: two 3x3 conv + ReLU + 2x2 max-pool blocks, then one linear layer.

The shape of the LeNet-like baselines of FedAvg (McMahan et al. 2017), shrunk
so one client's epoch stays cheap in simulation. Accepted input shapes:
(C, H, W); (H, W), read as one channel; or flat (S*S,), read as a one-channel
S x S image (e.g. (64,) for digits, (784,) for LEAF FEMNIST). H, W and S must
be >= 4 so both poolings keep at least one pixel. Batches may be flat or
shaped: forward reshapes them to (N, C, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from sims.model_size import image_shape
from topologies.specs.model import CnnModelSpec


class Cnn(nn.Module):
    """conv(C->c1) relu pool, conv(c1->c2) relu pool, linear(c2*(H//4)*(W//4) -> classes)."""

    def __init__(
        self, image_shape: tuple[int, int, int], num_classes: int, channels: tuple[int, int]
    ) -> None:
        super().__init__()
        self.image_shape = image_shape
        in_channels, height, width = image_shape
        first, second = channels
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, first, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
        )
        self.classifier = nn.Linear(second * (height // 4) * (width // 4), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classifier(self.features(x.reshape(-1, *self.image_shape)))
        return logits


def build_cnn(spec: CnnModelSpec, input_shape: tuple[int, ...], num_classes: int) -> Cnn:
    """Build for an image-shaped input; see the module docstring for accepted shapes.

    Raises:
        ModelError: the input shape cannot be read as an image of side >= 4.
    """
    return Cnn(image_shape(input_shape), num_classes, spec.channels)
