"""The server a scheduler has for its group, as the scheduler's `[scheduler]` settings say.

The node's builder (`sims.build`) makes it here and hands it to the scheduler
(`actors.scheduler`), which sees it only through the core's `actors.group`
Protocols, so neither role package imports the other:

    hierfavg   synchronous rounds (`SyncRoundsServer`), the round settings of
               `[scheduler]`, waiting for `min_clients` (default: the whole group)
    async      FedAsync or FedBuff, as `[scheduler.edge]` says
"""

from __future__ import annotations

from actors.configs.schedulers import AsyncEdgeConfig, HierFavgConfig
from actors.configs.servers import FedAsyncConfig
from actors.server.asynchronous import AsyncServer
from actors.server.deps import ServerDeps
from actors.server.fedasync import FedAsyncServer
from actors.server.fedbuff import FedBuffServer
from actors.server.rounds import SyncRoundsServer
from actors.statedict import StateDict


def rounds_group(
    config: HierFavgConfig, initial: StateDict, deps: ServerDeps, group_size: int
) -> SyncRoundsServer:
    """A HierFAVG edge's group server: its first round waits for `config.min_clients`
    children, or for all `group_size` of them (the scheduler sets κ1, its local rounds)."""
    settings = config.model_copy(update={"min_clients": config.min_clients or group_size})
    return SyncRoundsServer(settings, initial, deps)


def async_group(config: AsyncEdgeConfig, initial: StateDict, deps: ServerDeps) -> AsyncServer:
    """An asynchronous edge's group server: FedAsync or FedBuff, as `config.edge` says."""
    if isinstance(config.edge, FedAsyncConfig):
        return FedAsyncServer(config.edge, initial, deps)
    return FedBuffServer(config.edge, initial, deps)
