"""The aggregators' settings (`[server] aggregator`), found by `kind`.

Each aggregator's settings live in its own file beside it, in
`actors.server.aggregators` (which imports no torch: the schema imports it);
this module names them for the other configs and the topology layer.
"""

from actors.server.aggregators import (
    AGGREGATORS,
    AggregatorConfig,
    AggregatorSettings,
    CustomAggregatorConfig,
    GeoMedianConfig,
    KrumConfig,
    MedianConfig,
    MultiKrumConfig,
    NormClipConfig,
    TrimmedMeanConfig,
    WeightedMeanConfig,
    custom_from_path,
    least_updates,
)

__all__ = [
    "AGGREGATORS",
    "AggregatorConfig",
    "AggregatorSettings",
    "CustomAggregatorConfig",
    "GeoMedianConfig",
    "KrumConfig",
    "MedianConfig",
    "MultiKrumConfig",
    "NormClipConfig",
    "TrimmedMeanConfig",
    "WeightedMeanConfig",
    "custom_from_path",
    "least_updates",
]
