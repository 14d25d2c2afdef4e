"""Who may speak for whom through a `Relayed`: moved to the core, `actors.relays` (a relay
scheduler checks it too); this path still exports it."""

from actors.relays import Rejection, Relays, relay_rejection

__all__ = ["Rejection", "Relays", "relay_rejection"]
