"""Scheduler roles: the middle tier of a hierarchy, found by the `mode` topology files use.

hierfavg   synchronous edge rounds, κ1 local rounds, κ2 edge rounds per report
async      FedAsync or FedBuff at the edge, pushing up every `push_every` versions
relay      forward only
"""

from actors.scheduler.async_edge import AsyncEdgeConfig, FedAsyncEdge, FedBuffEdge
from actors.scheduler.hierfavg import HierFavgConfig, HierFavgScheduler
from actors.scheduler.relay import RelayConfig, RelayScheduler

__all__ = [
    "AsyncEdgeConfig",
    "FedAsyncEdge",
    "FedBuffEdge",
    "HierFavgConfig",
    "HierFavgScheduler",
    "RelayConfig",
    "RelayScheduler",
]
