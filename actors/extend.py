"""What a user's own code needs, in one public module: `from actors.extend import ...`.

A topology file names user code by `module:attr` path; the module may sit next
to the topology file (no `PYTHONPATH` needed). The slots, and what each path
must name (docs/extending.md has a worked example of each):

- `[client] trainer`: a `Trainer` factory, `f(model, x, y, config, seed) -> Trainer`;
- `[server] aggregator` (fedavg) and `[scheduler] aggregator` (hierfavg): an
  `Aggregator` class or factory, `f(**options) -> Aggregator`;
- `[server] staleness` (fedasync, fedbuff) and `[scheduler.edge] staleness`: a
  `StalenessFunction`, `s(tau, **options) -> float` in [0, 1];
- `[server] algorithm = "custom"`, `path`: an `AsyncServer` subclass, built as
  `cls(config, initial_weights, deps)`, that defines `apply(client, update, tau)`;
- `[model] kind = "custom"`: `f(input_shape, num_classes, **options) -> nn.Module`;
- `[data] kind = "custom"`: `f(seed, **options) -> (train_x, train_y, test_x, test_y)`.

Everything here is re-exported from where it lives, so its behaviour is the
built-in one: a custom trainer can wrap `local_train` or `TorchTrainer`, a
custom aggregator can call `check_updates` first, as the built-in ones do.
"""

from __future__ import annotations

from typing import Any, Protocol

from actors.client.local_sgd import TrainingInputError, evaluate, local_train
from actors.client.trainer import TorchTrainer
from actors.configs.client import TrainConfig
from actors.configs.servers import CustomServerConfig
from actors.protocol import Update
from actors.server.aggregators.base import Aggregator, check_updates
from actors.server.asynchronous import AsyncServer
from actors.server.base import ServerDeps
from actors.statedict import StateDict, add_scaled, flatten, unflatten
from actors.training import Evaluation, Trainer, TrainResult


class StalenessFunction(Protocol):
    """s(τ): how much an update based on a model τ versions old counts (FedAsync's α·s(τ),
    FedBuff's weight), a number in [0, 1]."""

    def __call__(self, tau: int, **options: Any) -> float: ...


__all__ = [
    "Aggregator",
    "AsyncServer",
    "CustomServerConfig",
    "Evaluation",
    "ServerDeps",
    "StalenessFunction",
    "StateDict",
    "TorchTrainer",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "TrainingInputError",
    "Update",
    "add_scaled",
    "check_updates",
    "evaluate",
    "flatten",
    "local_train",
    "unflatten",
]
