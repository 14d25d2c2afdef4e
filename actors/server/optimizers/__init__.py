"""Server optimizers: how a server applies the aggregated delta, found by `kind`.

Topology files name a server optimizer by `kind` ("sgd", "fedadam",
"fedyogi", "fedadagrad"); `ServerOptimizerConfig` (in `actors.configs.optimizers`,
with the settings) is the discriminated union that validates the table, and
`build_server_optimizer` turns a validated config into a fresh optimizer (each
server owns one: optimizers keep state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.configs.optimizers import (
    FedAdagradConfig,
    FedAdamConfig,
    FedYogiConfig,
    ServerOptimizerConfig,
    ServerSgdConfig,
)
from actors.server.optimizers.base import ServerOptimizer
from actors.server.optimizers.fedadagrad import FedAdagrad
from actors.server.optimizers.fedadam import FedAdam
from actors.server.optimizers.fedyogi import FedYogi
from actors.server.optimizers.sgd import ServerSgd

SERVER_OPTIMIZERS: dict[str, Callable[[Any], ServerOptimizer]] = {
    "sgd": ServerSgd,
    "fedadam": FedAdam,
    "fedyogi": FedYogi,
    "fedadagrad": FedAdagrad,
}


def build_server_optimizer(config: ServerOptimizerConfig) -> ServerOptimizer:
    """Return a fresh optimizer (no buffers, step 0) that `config` describes."""
    return SERVER_OPTIMIZERS[config.kind](config)


__all__ = [
    "SERVER_OPTIMIZERS",
    "FedAdagrad",
    "FedAdagradConfig",
    "FedAdam",
    "FedAdamConfig",
    "FedYogi",
    "FedYogiConfig",
    "ServerOptimizer",
    "ServerOptimizerConfig",
    "ServerSgd",
    "ServerSgdConfig",
    "build_server_optimizer",
]
