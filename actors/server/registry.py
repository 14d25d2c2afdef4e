"""The built-in servers by the `algorithm` name topology files use (`"custom"` is added
when a file names a user's class: `topologies.custom`).

The names are read from each server's settings (`algorithm: Literal[...]`), not written again.
"""

from actors.configs.servers import FedAsyncConfig, FedAvgConfig, FedBuffConfig
from actors.configs.variants import tag_of
from actors.server.base import ServerActor
from actors.server.fedasync import FedAsyncServer
from actors.server.fedavg import FedAvgServer
from actors.server.fedbuff import FedBuffServer

SERVERS: dict[str, type[ServerActor]] = {
    tag_of(config, "algorithm"): server
    for config, server in (
        (FedAvgConfig, FedAvgServer),
        (FedAsyncConfig, FedAsyncServer),
        (FedBuffConfig, FedBuffServer),
    )
}
