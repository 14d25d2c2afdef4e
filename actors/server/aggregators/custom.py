"""A user's own aggregator, named in the topology file by its `module:attr` path.

    aggregator = "rules:GeoMedian"                                  # no options
    aggregator = { kind = "custom", path = "rules:GeoMedian", options = { iters = 50 } }

`path` names a class or factory called as `f(**options)` that returns an
`Aggregator` (`aggregate(updates, weights) -> StateDict`). Roles never
import user code themselves: the topology layer imports it while the file is
validated (in every process) and registers it here, under its path.
"""

from __future__ import annotations

from collections.abc import Callable

from actors.server.aggregators.base import Aggregator

#: `module:attr` path -> the user's factory, registered when a topology is validated.
CUSTOM_AGGREGATORS: dict[str, Callable[..., Aggregator]] = {}
