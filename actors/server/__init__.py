"""Server roles: one algorithm per module, found by the name topology files use."""

from actors.server.base import ServerActor, ServerDeps
from actors.server.fedasync import FedAsyncServer
from actors.server.fedavg import FedAvgServer
from actors.server.fedbuff import FedBuffServer

SERVERS: dict[str, type[ServerActor]] = {
    "fedavg": FedAvgServer,
    "fedasync": FedAsyncServer,
    "fedbuff": FedBuffServer,
}

__all__ = ["SERVERS", "FedAsyncServer", "FedAvgServer", "FedBuffServer", "ServerActor", "ServerDeps"]
