"""A user's own rules for the topology files next to this one (docs/extending.md walks through each).

`module:attr` paths in a topology file import from the file's folder, so
`aggregator = "rules:GeoMedian"` finds this file with no PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from actors.extend import StateDict, TorchTrainer, TrainConfig, Trainer, check_updates

#: Samples a client may train on (a device with little memory).
SAMPLE_BUDGET = 32


class GeoMedian:
    """The geometric median of the updates, by Weiszfeld's iterations.

    Robust Federated Aggregation (Pillutla, Kakade, Harchaoui 2022, RFA): the
    point minimising the weighted sum of Euclidean distances to the updates, so
    that a few far-off updates move it little.
    """

    def __init__(self, iterations: int = 10, eps: float = 1e-6) -> None:
        self.iterations = iterations
        self.eps = eps

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        check_updates(updates, weights)  # the built-in aggregators' checks and typed errors
        keys = sorted(updates[0])
        points = torch.stack([torch.cat([u[k].flatten().double() for k in keys]) for u in updates])
        share = torch.tensor(list(weights), dtype=torch.float64)
        share = share / share.sum()
        median = share @ points  # start from the weighted mean
        for _ in range(self.iterations):
            pull = share / (points - median).norm(dim=1).clamp_min(self.eps)
            median = (pull / pull.sum()) @ points
        return _unflatten(median, updates[0], keys)


def _unflatten(flat: torch.Tensor, like: StateDict, keys: list[str]) -> StateDict:
    out, start = {}, 0
    for key in keys:
        count = like[key].numel()
        out[key] = flat[start : start + count].view_as(like[key]).to(like[key].dtype)
        start += count
    return out


def halving(tau: int, every: int = 4) -> float:
    """s(τ) = 1/2 for every `every` versions of staleness: 1, 1, 1, 1, 0.5, 0.5, ..."""
    return 0.5 ** (tau // every)


def sample_budget_trainer(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, seed: int
) -> Trainer:
    """The built-in trainer on the client's first `SAMPLE_BUDGET` samples only."""
    return TorchTrainer(model, x[:SAMPLE_BUDGET], y[:SAMPLE_BUDGET], config, seed)
