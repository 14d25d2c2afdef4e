"""A trainer that does not train: isolates what gossip averaging alone does."""

from __future__ import annotations

import torch
from torch import nn

from actors.client.local_sgd import Evaluation, TrainConfig, TrainResult
from actors.statedict import StateDict, clone


class IdentityTrainer:
    """`fit` returns the weights unchanged (a copy); `evaluate` reports nothing learned."""

    def __init__(self, num_samples: int) -> None:
        self._num_samples = num_samples

    @property
    def num_samples(self) -> int:
        return self._num_samples

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        return clone(weights), TrainResult(self._num_samples, 0, 0.0)

    def evaluate(self, weights: StateDict) -> Evaluation:
        return Evaluation(0.0, 0.0, 0)


def trainer(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, seed: int
) -> IdentityTrainer:
    """The `client.trainer` factory topology files name: `tests.actors.peer.identity:trainer`."""
    return IdentityTrainer(len(y))
