"""What a client trains with: the `Trainer` interface and its torch implementation.

The node injects a trainer into each client: the model, the client's local data
and its training settings. A user's own trainer (named `module:attr` in the
topology file) only has to offer the same three members.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from actors.client.local_sgd import Evaluation, TrainConfig, TrainResult, evaluate, local_train
from actors.statedict import StateDict


class Trainer(Protocol):
    """Local training and evaluation on one client's data."""

    @property
    def num_samples(self) -> int:
        """Training samples this client holds (its aggregation weight)."""
        ...

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        """Train from `weights`; return the trained weights (fresh tensors) and the result.

        A trainer that also takes `steps` (keyword, partial work finer than an
        epoch) is called `fit(weights, steps=k)` when a straggler's deadline
        allows only k steps; one without it then gets `fit(weights, 1)`.
        """
        ...

    def evaluate(self, weights: StateDict) -> Evaluation:
        """Loss and accuracy of `weights` on this trainer's evaluation data."""
        ...


class TorchTrainer:
    """A `Trainer` over in-memory tensors with minibatch SGD (optionally FedProx).

    Args:
        model: the model; its weights are overwritten by each `fit`/`evaluate`.
        x, y: the local data (training data for clients, test data for servers).
        config: epochs or steps, batch size, SGD settings, FedProx μ.
        seed: seeds the shuffling generator, so a client's batches are reproducible.
    """

    def __init__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, seed: int
    ) -> None:
        self.model = model
        self.x = x
        self.y = y
        self.config = config
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def num_samples(self) -> int:
        return len(self.y)

    def fit(
        self, weights: StateDict, epochs: int | None = None, *, steps: int | None = None
    ) -> tuple[StateDict, TrainResult]:
        self.model.load_state_dict(weights)
        result = local_train(self.model, self.x, self.y, self.config, self.generator, epochs, steps)
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}, result

    def evaluate(self, weights: StateDict) -> Evaluation:
        self.model.load_state_dict(weights)
        return evaluate(self.model, self.x, self.y)
