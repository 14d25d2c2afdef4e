"""User code in the server's and schedulers' slots: custom aggregators, staleness functions, servers.

    [server]
    algorithm = "fedavg"
    aggregator = "rules:GeoMedian"          # a class or factory f(**options) -> Aggregator
    [server]
    algorithm = "fedasync"
    staleness = { kind = "custom", path = "rules:halving", options = { every = 4 } }   # s(tau, **options)

While the file is validated (in every process that reads it), each path is
imported, checked against the call it will get (an aggregator is built once
and must have `aggregate`; s(τ) is tried at τ = 0, 1, 10 and must give a
number in [0, 1]) and registered where the roles look it up
(`CUSTOM_AGGREGATORS`, `CUSTOM_STALENESS`; a custom server class, which
must subclass `AsyncServer`, in `SERVERS["custom"]`): roles never import user code.
"""

from __future__ import annotations

import math
from typing import Any

from actors.configs.aggregators import CustomAggregatorConfig
from actors.configs.servers import CustomServerConfig
from actors.server.staleness import CUSTOM_STALENESS, CustomStalenessConfig
from topologies.errors import ImportPathError
from topologies.imports import check_signature, described_error, resolve_import

#: τ values a custom s(τ) is tried at while the file is checked.
PROBE_STALENESS = (0, 1, 10)


def register_user_code(tables: dict[str, Any]) -> None:
    """Import, check and register every custom aggregator and staleness function of these
    tables (`{"server": config, "scheduler.edge": config, ...}`).

    Raises:
        ValueError: a path does not import, or its object does not take its call;
            the message starts with the field (`server.aggregator: ...`).
    """
    for table, config in tables.items():
        if isinstance(config, CustomServerConfig):
            from actors.server import SERVERS  # the roles (and torch) only for a file with user code

            try:
                SERVERS["custom"] = _server(config)
            except ImportPathError as exc:
                raise ValueError(f"{table}.path: {exc}") from None
        for slot in ("aggregator", "staleness"):
            value = getattr(config, slot, None)
            field = f"{table}.{slot}"
            try:
                if isinstance(value, CustomAggregatorConfig):
                    from actors.server.aggregators.custom import CUSTOM_AGGREGATORS

                    CUSTOM_AGGREGATORS[value.path] = _aggregator(value)
                elif isinstance(value, CustomStalenessConfig):
                    CUSTOM_STALENESS[value.path] = _staleness(value)
            except ImportPathError as exc:
                raise ValueError(f"{field}: {exc}") from None


def _aggregator(config: CustomAggregatorConfig) -> Any:
    factory = resolve_import(config.path)
    check_signature(config.path, factory, "f(**options)", **config.options)
    try:
        built = factory(**config.options)
    except Exception as exc:  # the user's code: any error is a refusal
        raise ImportPathError(config.path, f"building it raised {described_error(exc)}") from None
    if not callable(getattr(built, "aggregate", None)):
        raise ImportPathError(
            config.path, f"built a {type(built).__name__}, which has no aggregate(updates, weights)"
        )
    return factory


def _server(config: CustomServerConfig) -> Any:
    from actors.server.asynchronous import AsyncServer

    cls = resolve_import(config.path)
    if not (isinstance(cls, type) and issubclass(cls, AsyncServer)):
        raise ImportPathError(config.path, f"expected a subclass of AsyncServer, got {cls!r}"[:200])
    check_signature(config.path, cls, "cls(config, initial_weights, deps)", config, {}, None)
    return cls


def _staleness(config: CustomStalenessConfig) -> Any:
    function = resolve_import(config.path)
    check_signature(config.path, function, "f(tau, **options)", 0, **config.options)
    for tau in PROBE_STALENESS:
        try:
            weight = function(tau, **config.options)
        except Exception as exc:  # the user's code: any error is a refusal
            raise ImportPathError(config.path, f"s({tau}) raised {described_error(exc)}") from None
        if not isinstance(weight, int | float) or not math.isfinite(weight) or not 0 <= weight <= 1:
            raise ImportPathError(config.path, f"s({tau}) gave {weight!r}; expected a number in [0, 1]")
    return function
