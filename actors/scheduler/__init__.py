"""Scheduler roles: the middle tier of a hierarchy, found by the `mode` topology files use.

hierfavg   synchronous edge rounds, κ1 local rounds, κ2 edge rounds per report
async      FedAsync or FedBuff at the edge, pushing up every `push_every` versions
relay      forward only
"""

from actors.configs.schedulers import AsyncEdgeConfig, HierFavgConfig, RelayConfig
from actors.scheduler.async_edge import FedAsyncEdge, FedBuffEdge
from actors.scheduler.base import Scheduler
from actors.scheduler.hierfavg import HierFavgScheduler
from actors.scheduler.relay import RelayScheduler

__all__ = [
    "AsyncEdgeConfig",
    "FedAsyncEdge",
    "FedBuffEdge",
    "HierFavgConfig",
    "HierFavgScheduler",
    "RelayConfig",
    "RelayScheduler",
    "Scheduler",
]
