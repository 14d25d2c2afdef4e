"""Aggregators: how a server combines client updates, found by the `kind` of their settings.

One file per aggregator holds its settings (`KrumConfig`, the table a topology
file writes) and the aggregator they build. `AggregatorConfig` is their
discriminated union on `kind`: it validates `[server] aggregator`, and
`AGGREGATORS` (kind -> settings class) is derived from it. Adding a built-in
aggregator is one new file and its settings added to the union below (see
docs/extending.md). `"custom"` is a user's own (`custom.py`).

Importing this package does not import torch (the topology schema imports it).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field

from actors.configs.variants import variants
from actors.server.aggregators.base import Aggregator, AggregatorSettings, CheckedAggregator, check_updates
from actors.server.aggregators.custom import CUSTOM_AGGREGATORS, CustomAggregatorConfig, custom_from_path
from actors.server.aggregators.geomedian import GeoMedian, GeoMedianConfig
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
        | GeoMedianConfig
        | CustomAggregatorConfig,
        Field(discriminator="kind"),
    ],
    BeforeValidator(custom_from_path),
]

#: kind -> settings class, as topology files name them.
AGGREGATORS: dict[str, type[AggregatorSettings]] = variants(AggregatorConfig)


def build_aggregator(config: AggregatorConfig) -> Aggregator:
    """Return the aggregator that `config` (already validated) describes."""
    return config.build()


def least_updates(config: AggregatorConfig) -> tuple[int, str]:
    """The fewest updates the aggregator accepts in one aggregation, and the rule why."""
    return config.least_updates()


__all__ = [
    "AGGREGATORS",
    "CUSTOM_AGGREGATORS",
    "Aggregator",
    "AggregatorConfig",
    "AggregatorSettings",
    "CheckedAggregator",
    "CoordinateMedian",
    "CustomAggregatorConfig",
    "GeoMedian",
    "GeoMedianConfig",
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
    "custom_from_path",
    "least_updates",
]
