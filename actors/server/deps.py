"""What a server is given by its node (`ServerDeps`); a scheduler that has it is its `GroupOwner`.

A scheduler (`actors.scheduler`) *has* a server for its group and becomes its
`owner`; what each sees of the other is in the core (`actors.group`, where
`GroupOwner` lives; it is still exported here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from actors.group import GroupOwner

if TYPE_CHECKING:
    from actors.liveness import Heartbeats
    from actors.server.checkpoint import Checkpointer
    from actors.training import Evaluator, StopConfig

__all__ = ["GroupOwner", "ServerDeps"]


@dataclass(frozen=True, slots=True)
class ServerDeps:
    """What the node injects into a server.

    Attributes:
        evaluator: scores the global model on the held-out test set (None: never).
        stop: the stopping rule (None: the run's end comes from elsewhere, as
            for a scheduler, which stops when its parent says).
        seed: seeds the server's own random choices (client sampling).
        recorder: actor told `Done` when the run ends (None: nobody).
        eval_every: evaluate the global model every this many versions.
        expected_clients: the only actors whose `Join` and `Update` are taken
            (the server's children in the topology); None: anyone's.
        heartbeats: heartbeat the children and forget the silent ones (None: never).
        checkpoint: writes the server's state when due, and restores it on
            resume (`resume()`); None: never (simulations).
        relays: the only actors whose `Relayed` is taken (the relays below this
            server in the topology), each with the children it may speak for;
            None: anyone's, for anyone.
        train_evaluator: scores the global model on the clients' training data
            (or a fixed sample of it) at each evaluation; None: never.
    """

    evaluator: Evaluator | None
    stop: StopConfig | None
    seed: int = 0
    recorder: str | None = None
    eval_every: int = 1
    expected_clients: frozenset[str] | None = None
    heartbeats: Heartbeats | None = None
    checkpoint: Checkpointer | None = None
    relays: Mapping[str, frozenset[str]] | None = None
    train_evaluator: Evaluator | None = None
