"""The node's bookkeeping: its configuration, one slot per actor, one entry per pending ask,
the tables its parts share (`NodeState`), and the typed error a failed ask raises."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from actors.actor import Actor
from actors.errors import ActorNotFoundError, ActorStoppedError, FedActorsError, RemoteActorError
from actors.mailbox import Mailbox
from actors.messages import Failure, Message


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """How a node runs its actors.

    Attributes:
        mailbox_capacity: messages queued per actor before senders wait.
        ask_timeout_s: default timeout of `ask`.
        mailbox_stall_s: how long the receive loop waits for room in a full
            mailbox whose actor takes nothing; after that the actor counts as
            stuck and its incoming messages are dropped until it takes one
            again, so that it cannot stall every other actor of the node.
        compute: "inline" runs `Actor.compute` work on the event loop (the
            simulation needs this for determinism); "thread" runs it on one
            compute thread per node, so messages keep flowing while a model trains.
    """

    mailbox_capacity: int = 1000
    ask_timeout_s: float = 30.0
    mailbox_stall_s: float = 30.0
    compute: Literal["inline", "thread"] = "inline"


@dataclass(eq=False)
class _Slot:
    actor: Actor
    mailbox: Mailbox
    held: bool = False
    stuck_at: int = -1  # `mailbox.taken` when the receive loop gave up waiting on it
    loop_task: asyncio.Task[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


@dataclass(eq=False)
class _Pending:
    future: asyncio.Future[Message]
    receiver: str


@dataclass(eq=False)
class NodeState:
    """What a node hosts and knows, shared by the node and its receiver (`actors.inbound`)."""

    slots: dict[str, _Slot] = field(default_factory=dict)  # the actors hosted here, by name
    routes: dict[str, str] = field(default_factory=dict)  # the directory: actor -> node id, as placed
    pending: dict[int, _Pending] = field(default_factory=dict)  # asks awaiting a reply, by corr id
    stopped: set[str] = field(default_factory=set)  # actors hosted and stopped (bounded by placement)
    stopping: bool = False  # `Node.stop()` was called on the running node

    def knows(self, actor: str) -> bool:
        """Whether `actor` is in the directory or hosted here (its table entries are kept for good)."""
        return actor in self.routes or actor in self.slots

    def fail_pending(self, error: Callable[[str], FedActorsError], receiver: str | None = None) -> None:
        """Fail every ask still waiting (only those to `receiver`, if given) with `error(receiver)`."""
        for pending in list(self.pending.values()):
            if receiver in (None, pending.receiver) and not pending.future.done():
                pending.future.set_exception(error(pending.receiver))


def failure_to_error(receiver: str, failure: Failure) -> FedActorsError:
    """The typed error a `Failure` reply stands for."""
    if failure.error_type == "ActorStoppedError":
        return ActorStoppedError(receiver)
    if failure.error_type == "ActorNotFoundError":
        return ActorNotFoundError(receiver)
    return RemoteActorError(receiver, failure.error_type, failure.detail)
