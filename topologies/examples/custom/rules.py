"""A user's own rules for the topology files next to this one (docs/extending.md walks through each).

`module:attr` paths in a topology file import from the file's folder, so
`aggregator = "rules:GeoMedian"` finds this file with no PYTHONPATH.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from actors.extend import (
    AsyncServer,
    CustomServerConfig,
    ServerDeps,
    StateDict,
    TorchTrainer,
    TrainConfig,
    Trainer,
    Update,
    add_scaled,
    check_updates,
    flatten,
    unflatten,
)

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
        points = torch.stack([flatten(u, torch.float64) for u in updates])
        share = torch.tensor(list(weights), dtype=torch.float64)
        share = share / share.sum()
        median = share @ points  # start from the weighted mean
        for _ in range(self.iterations):
            pull = share / (points - median).norm(dim=1).clamp_min(self.eps)
            median = (pull / pull.sum()) @ points
        return unflatten(median, updates[0])


def halving(tau: int, every: int = 4) -> float:
    """s(τ) = 1/2 for every `every` versions of staleness: 1, 1, 1, 1, 0.5, 0.5, ..."""
    return 0.5 ** (tau // every)


def sample_budget_trainer(
    model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, seed: int
) -> Trainer:
    """The built-in trainer on the client's first `SAMPLE_BUDGET` samples only."""
    return TorchTrainer(model, x[:SAMPLE_BUDGET], y[:SAMPLE_BUDGET], config, seed)


class DeltaSgdServer(AsyncServer):
    """Asynchronous SGD on the clients' deltas: x ← x + lr/(τ+1) · Δ, each applied as it arrives.

    `[server] options = { lr = ... }` sets lr; a stale delta is damped by 1/(τ+1).
    """

    want_delta = True

    def __init__(self, config: CustomServerConfig, initial: StateDict, deps: ServerDeps) -> None:
        super().__init__(initial, deps)
        self.config = config
        self.lr = float(config.options.get("lr", 1.0))

    async def apply(self, client: str, update: Update, tau: int) -> None:
        if not update.is_delta:
            self.drop(client, update, "expected_delta")
            return
        step = self.lr / (tau + 1)
        self.record_applied(client, update, tau, lr=step)
        await self.new_version(add_scaled(self.params, update.weights, step), contributors=1)
