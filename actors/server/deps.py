"""What a server is given: by its node (`ServerDeps`), and by a scheduler that has it (`GroupOwner`).

A scheduler (`actors.scheduler`) is a parent to its group and a client to its
own parent. It *has* a server for its group and becomes that server's
`owner`: the server hands it the events where a scheduler differs from a
server at the top (a child joined, an update arrived, a peer fell silent, a
new version was made), and the owner decides what to do, calling the
server's own hook (`client_joined`, `update_arrived`, `peer_lost`) where it
wants the server's behaviour. Without an owner a server does what its hooks
say and, at each new version, evaluates and applies the stopping rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from actors.liveness import Heartbeats
    from actors.protocol import Update
    from actors.server.checkpoint import Checkpointer
    from actors.statedict import StateDict
    from actors.training import Evaluator, StopConfig


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


class GroupOwner(Protocol):
    """A scheduler that has this server for its group (see the module docstring)."""

    async def child_joined(self, client: str) -> None:
        """`client` joined the group (the server's `client_joined` hands it work)."""
        ...

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        """A valid update for the client's task (the server's `update_arrived` uses it)."""
        ...

    async def peer_lost(self, peer: str) -> None:
        """Heartbeats: `peer` fell silent: the parent, or a child (the server's `peer_lost`)."""
        ...

    async def version_made(self, contributors: int) -> None:
        """The group's model has a new version (installed already): report, checkpoint."""
        ...

    def owner_state(self) -> dict[str, Any]:
        """What the owner adds to the group server's checkpoint."""
        ...

    def load_owner_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `owner_state()` added (after the server restored its own)."""
        ...
