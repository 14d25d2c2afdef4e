"""The schedulers' settings (`[scheduler]`, found by `mode`); the schedulers are in `actors.scheduler`.

Data only, no torch (see `actors.configs`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from actors.configs.servers import FedAsyncConfig, FedBuffConfig, RoundSettings


class HierFavgConfig(RoundSettings):
    """HierFAVG's edge parameters (the round settings mean, and are checked, as for FedAvg).

    Attributes:
        kappa1: κ1, local rounds of each client between edge aggregations.
        kappa2: κ2, edge aggregations between reports to the parent.
        min_clients: children that must join before the scheduler joins its
            parent (default: every child the graph gives it).
    """

    mode: Literal["hierfavg"] = "hierfavg"
    kappa1: int = Field(default=1, gt=0)
    kappa2: int = Field(default=1, gt=0)


EdgeAlgorithm = Annotated[FedAsyncConfig | FedBuffConfig, Field(discriminator="algorithm")]


class AsyncEdgeConfig(BaseModel):
    """An asynchronous edge scheduler.

    Attributes:
        edge: the algorithm its group runs (FedAsync or FedBuff and their settings).
        push_every: edge versions between reports to the parent.
        min_clients: children that must join before the scheduler joins its
            parent (default: every child the graph gives it).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["async"] = "async"
    edge: EdgeAlgorithm = Field(default_factory=FedBuffConfig)
    push_every: int = Field(default=5, gt=0)
    min_clients: int | None = Field(default=None, gt=0)


class RelayConfig(BaseModel):
    """A relay has no settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["relay"] = "relay"


#: `[scheduler]`, found by `mode`.
SchedulerConfig = Annotated[HierFavgConfig | AsyncEdgeConfig | RelayConfig, Field(discriminator="mode")]
