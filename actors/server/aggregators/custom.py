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
from typing import Any, Literal

from pydantic import Field

from actors.server.aggregators.base import Aggregator, AggregatorSettings

#: `module:attr` path -> the user's factory, registered when a topology is validated.
CUSTOM_AGGREGATORS: dict[str, Callable[..., Aggregator]] = {}


class CustomAggregatorConfig(AggregatorSettings):
    """`{ kind = "custom", path = "module:attr", options = {...} }`, or just the path as a string."""

    kind: Literal["custom"] = "custom"
    path: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
    options: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> Aggregator:
        return CUSTOM_AGGREGATORS[self.path](**self.options)


def custom_from_path(value: Any) -> Any:
    """A bare `"module:attr"` string stands for `{ kind = "custom", path = ... }`."""
    return {"kind": "custom", "path": value} if isinstance(value, str) else value
