"""Aggregators: how a server combines client updates, found by the `kind` of their config.

Topology files name an aggregator by `kind` ("weighted_mean", "median",
"trimmed_mean", "krum", "multi_krum", "norm_clip", or "custom": a user's own,
see `custom.py`); `AggregatorConfig` (in
`actors.configs.aggregators`, with the settings) is the discriminated union
that validates the table, and `build_aggregator` turns a
validated config into the aggregator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from actors.configs.aggregators import (
    AggregatorConfig,
    CustomAggregatorConfig,
    KrumConfig,
    MedianConfig,
    MultiKrumConfig,
    NormClipConfig,
    TrimmedMeanConfig,
    WeightedMeanConfig,
    least_updates,
)
from actors.server.aggregators.base import Aggregator, check_updates
from actors.server.aggregators.custom import CUSTOM_AGGREGATORS
from actors.server.aggregators.krum import Krum, MultiKrum
from actors.server.aggregators.median import CoordinateMedian
from actors.server.aggregators.norm_clip import NormClip
from actors.server.aggregators.trimmed_mean import TrimmedMean
from actors.server.aggregators.weighted_mean import WeightedMean

AGGREGATORS: dict[str, Callable[[Any], Aggregator]] = {
    "weighted_mean": WeightedMean,
    "median": CoordinateMedian,
    "trimmed_mean": TrimmedMean,
    "krum": Krum,
    "multi_krum": MultiKrum,
    "norm_clip": NormClip,
    "custom": lambda config: CUSTOM_AGGREGATORS[config.path](**config.options),
}


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
