"""The built-in servers by the `algorithm` name topology files use (`"custom"` is added
when a file names a user's class: `topologies.custom`)."""

from actors.server.base import ServerActor
from actors.server.fedasync import FedAsyncServer
from actors.server.fedavg import FedAvgServer
from actors.server.fedbuff import FedBuffServer

SERVERS: dict[str, type[ServerActor]] = {
    "fedavg": FedAvgServer,
    "fedasync": FedAsyncServer,
    "fedbuff": FedBuffServer,
}
