"""Server optimizers: how a server applies the aggregated delta, found by `kind`.

One file per optimizer holds its settings (`FedAdamConfig`, the table a
topology file writes) and the optimizer they build. `ServerOptimizerConfig`
is their discriminated union on `kind`: it validates `[server] optimizer`,
and `SERVER_OPTIMIZERS` (kind -> settings class) is derived from it. Each
server builds a fresh optimizer (`build_server_optimizer`): optimizers keep state.

Importing this package does not import torch (the topology schema imports it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from actors.configs.variants import variants
from actors.server.optimizers.base import AdaptiveSettings, OptimizerSettings, ServerOptimizer
from actors.server.optimizers.fedadagrad import FedAdagrad, FedAdagradConfig
from actors.server.optimizers.fedadam import FedAdam, FedAdamConfig
from actors.server.optimizers.fedyogi import FedYogi, FedYogiConfig
from actors.server.optimizers.sgd import ServerSgd, ServerSgdConfig

ServerOptimizerConfig = Annotated[
    ServerSgdConfig | FedAdamConfig | FedYogiConfig | FedAdagradConfig,
    Field(discriminator="kind"),
]

#: kind -> settings class, as topology files name them.
SERVER_OPTIMIZERS: dict[str, type[OptimizerSettings]] = variants(ServerOptimizerConfig)


def build_server_optimizer(config: ServerOptimizerConfig) -> ServerOptimizer:
    """Return a fresh optimizer (no buffers, step 0) that `config` describes."""
    return config.build()


__all__ = [
    "SERVER_OPTIMIZERS",
    "AdaptiveSettings",
    "FedAdagrad",
    "FedAdagradConfig",
    "FedAdam",
    "FedAdamConfig",
    "FedYogi",
    "FedYogiConfig",
    "OptimizerSettings",
    "ServerOptimizer",
    "ServerOptimizerConfig",
    "ServerSgd",
    "ServerSgdConfig",
    "build_server_optimizer",
]
