"""The server optimizers' settings (`[server] optimizer`), found by `kind`.

Each optimizer's settings live in its own file beside it, in
`actors.server.optimizers` (which imports no torch: the schema imports it);
this module names them for the other configs.
"""

from actors.server.optimizers import (
    SERVER_OPTIMIZERS,
    FedAdagradConfig,
    FedAdamConfig,
    FedYogiConfig,
    ServerOptimizerConfig,
    ServerSgdConfig,
)

__all__ = [
    "SERVER_OPTIMIZERS",
    "FedAdagradConfig",
    "FedAdamConfig",
    "FedYogiConfig",
    "ServerOptimizerConfig",
    "ServerSgdConfig",
]
