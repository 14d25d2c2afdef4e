"""A trainer whose one step is known in closed form: the numpy replays of gossip use it.

Peer i's loss is f_i(x) = ½‖x − c_i‖², so one SGD step of size γ from x is
x − γ(x − c_i), exactly, for every tensor of the model.
"""

from __future__ import annotations

import torch

from actors.client.local_sgd import Evaluation, TrainResult
from actors.statedict import StateDict


class QuadraticTrainer:
    """`fit` takes one gradient step of ½‖x − target‖² with step size `lr`."""

    def __init__(self, target: StateDict, lr: float, num_samples: int = 10) -> None:
        self.target = target
        self.lr = lr
        self._num_samples = num_samples

    @property
    def num_samples(self) -> int:
        return self._num_samples

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        stepped = {k: w - self.lr * (w - self.target[k]) for k, w in weights.items()}
        return stepped, TrainResult(self._num_samples, 1, 0.0)

    def evaluate(self, weights: StateDict) -> Evaluation:
        return Evaluation(0.0, 0.0, 0)


def as_row(model: StateDict) -> torch.Tensor:
    """The model as one float64 vector (keys in sorted order), for numpy comparisons."""
    return torch.cat([model[k].double().flatten() for k in sorted(model)])
