"""Aggregators: how a server combines client updates, found by the `kind` of their config.

Topology files name an aggregator by `kind` ("weighted_mean", "median",
"trimmed_mean", "krum", "multi_krum", "norm_clip", or "custom": a user's own,
see `custom.py`); `AggregatorConfig` is the
discriminated union that validates the table, and `build_aggregator` turns a
validated config into the aggregator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from actors.server.aggregators.base import Aggregator, check_updates
from actors.server.aggregators.custom import CUSTOM_AGGREGATORS, CustomAggregatorConfig, custom_from_path
from actors.server.aggregators.krum import Krum, KrumConfig, MultiKrum, MultiKrumConfig
from actors.server.aggregators.median import CoordinateMedian, MedianConfig
from actors.server.aggregators.norm_clip import NormClip, NormClipConfig
from actors.server.aggregators.trimmed_mean import TrimmedMean, TrimmedMeanConfig
from actors.server.aggregators.weighted_mean import WeightedMean, WeightedMeanConfig

AggregatorConfig = Annotated[
    Annotated[
        WeightedMeanConfig
        | MedianConfig
        | TrimmedMeanConfig
        | KrumConfig
        | MultiKrumConfig
        | NormClipConfig
        | CustomAggregatorConfig,
        Field(discriminator="kind"),
    ],
    BeforeValidator(custom_from_path),
]

AGGREGATORS: dict[str, Callable[[Any], Aggregator]] = {
    "weighted_mean": WeightedMean,
    "median": CoordinateMedian,
    "trimmed_mean": TrimmedMean,
    "krum": Krum,
    "multi_krum": MultiKrum,
    "norm_clip": NormClip,
    "custom": lambda config: CUSTOM_AGGREGATORS[config.path](**config.options),
}


def least_updates(config: AggregatorConfig) -> tuple[int, str]:
    """The fewest updates the aggregator accepts in one aggregation, and the rule why."""
    if not isinstance(config, KrumConfig | MultiKrumConfig):
        return 1, "at least one update"
    f = config.byzantine
    rule = f"n >= 2f + 3 with byzantine f = {f}"
    m = config.m if isinstance(config, MultiKrumConfig) else None
    if m is not None and m > 2 * f + 3:
        return m, f"{rule}, and n >= m = {m}"
    return 2 * f + 3, rule


def build_aggregator(config: AggregatorConfig) -> Aggregator:
    """Return the aggregator that `config` (already validated) describes."""
    return AGGREGATORS[config.kind](config)


__all__ = [
    "AGGREGATORS",
    "CUSTOM_AGGREGATORS",
    "Aggregator",
    "AggregatorConfig",
    "CoordinateMedian",
    "CustomAggregatorConfig",
    "Krum",
    "KrumConfig",
    "MedianConfig",
    "MultiKrum",
    "MultiKrumConfig",
    "NormClip",
    "NormClipConfig",
    "TrimmedMean",
    "TrimmedMeanConfig",
    "WeightedMean",
    "WeightedMeanConfig",
    "build_aggregator",
    "check_updates",
    "least_updates",
]
