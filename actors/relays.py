"""Who may speak for whom through a `Relayed`: the relays of the topology, for their own subtrees.

A `Relayed(child, Join | Update)` asks its receiver to treat `child` as if it
had written itself. Only a relay the topology puts below the receiver may ask
that, and only for a child below that relay: a stranger that sends one (or a
relay speaking for another relay's child) is refused, counted and logged with
its own reason, and the real child keeps its task.

| reason | the `Relayed`... |
|---|---|
| `unknown_relay` | comes from an actor that is not a relay below the receiver |
| `not_behind_relay` | speaks for a child that is not below that relay |

Servers (`actors.server`) and relay schedulers (`actors.scheduler.relay`) both
check this, so it lives in the core, with `Rejection`, the form every refusal
takes (the server's update checks are in `actors.server.validation`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

Relays = Mapping[str, frozenset[str]]  # relay -> the children it may speak for


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an update or a join is refused.

    Attributes:
        reason: the code recorded in `update_dropped` (see `actors.server.validation`
            and the module docstring).
        detail: what was expected and what arrived, for the log.
    """

    reason: str
    detail: str


def relay_rejection(relays: Relays | None, relay: str, child: str) -> Rejection | None:
    """Why `relay` may not speak for `child`, or None to take its `Relayed` (always when
    `relays` is None: a receiver built without a topology takes anyone's)."""
    if relays is None:
        return None
    below = relays.get(relay)
    if below is None:
        return Rejection("unknown_relay", f"{relay!r} is not a relay below this actor in the topology")
    if child not in below:
        return Rejection("not_behind_relay", f"{child!r} is not below relay {relay!r} in the topology")
    return None
