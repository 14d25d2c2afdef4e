"""Server roles: one algorithm per module, found by the name topology files use (`SERVERS`).

The exports are imported on first use (`actors.lazy`): the schema imports
`actors.server.errors` and `actors.server.staleness` without the servers.
"""

from typing import TYPE_CHECKING

from actors.lazy import lazy_exports

if TYPE_CHECKING:
    from actors.server.base import ServerActor, ServerDeps
    from actors.server.fedasync import FedAsyncServer
    from actors.server.fedavg import FedAvgServer
    from actors.server.fedbuff import FedBuffServer
    from actors.server.registry import SERVERS

_EXPORTS = {
    "SERVERS": "actors.server.registry",
    "FedAsyncServer": "actors.server.fedasync",
    "FedAvgServer": "actors.server.fedavg",
    "FedBuffServer": "actors.server.fedbuff",
    "ServerActor": "actors.server.base",
    "ServerDeps": "actors.server.base",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = ["SERVERS", "FedAsyncServer", "FedAvgServer", "FedBuffServer", "ServerActor", "ServerDeps"]
