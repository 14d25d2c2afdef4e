"""What a node does with what its transport receives: routing, admission, backpressure, drops.

A received message is a reply (it resolves an ask), a message for one of the
node's actors (it goes into that actor's mailbox), or neither (dropped,
counted and logged, and an ask answered with a failure). A full mailbox holds
the receive loop, and through the socket's high-water mark the senders, only
while its actor keeps taking messages; see `Inbound._admit`.

A sender is bound to the node it arrived from: a message that names as its
sender an actor the directory places on another node is dropped
(`sender not on its node`), so no node can speak for another node's actors.
Only a message that passes that check and reaches an actor (or answers an ask)
teaches the node a route or a sign of life, into tables with a hard bound
(`actors.identities`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import TYPE_CHECKING, Any

from structlog.typing import FilteringBoundLogger

from actors.errors import MailboxFullError
from actors.identities import IdentityTable
from actors.logs import sampled
from actors.messages import Envelope, Failure, Heartbeat, Message

if TYPE_CHECKING:
    from actors.clock import Clock
    from actors.slots import NodeConfig, _Slot
    from actors.transport.base import Transport

_RECV_YIELD_EVERY = 64  # received messages between two turns given to the actors


class Inbound:
    """The receiving half of `Node` (a mixin: it uses the node's slots, routes and replies)."""

    transport: Transport | None
    config: NodeConfig
    log: FilteringBoundLogger
    dropped: Counter[str]
    heard: IdentityTable[float]
    clock: Clock
    _slots: dict[str, _Slot]
    _routes: dict[str, str]  # the directory: actor -> node id, as the launcher placed them
    _learned: IdentityTable[str]  # actor -> the node it wrote from, for senders not in the directory
    _pending: dict[int, Any]
    _stop_requested: asyncio.Event | None
    _stopped: set[str]

    def _knows(self, actor: str) -> bool:
        """Whether `actor` is in the directory or hosted here (its table entries are kept for good)."""
        return actor in self._routes or actor in self._slots

    def _resolve(self, reply: Envelope) -> None:
        raise NotImplementedError

    async def _reply(self, request: Envelope, body: Message) -> None:
        raise NotImplementedError

    async def _recv_loop(self) -> None:
        assert self.transport is not None
        for received in itertools.count(1):
            # As in _actor_loop: hold no reference to a message between receives.
            await self._accept(await self.transport.recv())
            if received % _RECV_YIELD_EVERY == 0:
                # A receive that finds a message waiting does not suspend: under a flood
                # this loop would otherwise keep the event loop from every actor.
                await asyncio.sleep(0)

    async def _accept(self, envelope: Envelope) -> None:
        if not self._from_its_node(envelope):
            return
        if envelope.is_reply:
            if envelope.corr_id in self._pending:
                self._note(envelope)
            self._resolve(envelope)
            return
        slot = self._slots.get(envelope.receiver)
        if slot is None:
            if not isinstance(envelope.body, Heartbeat):  # a beat to a stopped actor is no news
                await self._no_such_actor(envelope)
            return
        self._note(envelope)
        if not isinstance(envelope.body, Heartbeat):  # no actor handles it (see `actors.liveness`)
            await self._admit(slot, envelope)

    def _from_its_node(self, envelope: Envelope) -> bool:
        """False (and the message dropped) if its sender is placed on another node than its origin."""
        placed = self._routes.get(envelope.sender)
        if placed is None or not envelope.origin or placed == envelope.origin:
            return True
        self._count_drop(
            self.log, "sender not on its node", envelope, sender=envelope.sender, placed_on=placed
        )
        return False

    def _note(self, envelope: Envelope) -> None:
        """Note that the sender lives (any message is a sign of life), and learn where
        to answer it if the directory does not say."""
        sender = envelope.sender
        if not sender:
            return
        self.heard[sender] = self.clock.now()
        if envelope.origin and not self._knows(sender):
            self._learned[sender] = envelope.origin

    async def _no_such_actor(self, envelope: Envelope) -> None:
        stopping = self._stop_requested is not None and self._stop_requested.is_set()
        if stopping or envelope.receiver in self._stopped:
            # The actor is gone at the run's end: a late message (a server's `Leave` racing
            # the launcher's stop, a neighbour's last gossip to a peer that left) is no news.
            reason = "node stopping" if stopping else "actor stopped"
            self.dropped[reason] += 1
            self.log.debug("message_dropped", reason=reason, kind=envelope.body.kind)
        else:
            self._count_drop(self.log, "no such actor here", envelope, receiver=envelope.receiver)
        if envelope.corr_id:
            await self._reply(envelope, Failure("ActorNotFoundError", envelope.receiver))

    async def _admit(self, slot: _Slot, envelope: Envelope) -> None:
        """Put a received message in `slot`'s mailbox, waiting while its actor works through it.

        A full mailbox holds the receive loop (and so, through the socket's
        high-water mark, the senders) only while its actor takes messages.
        One that took none for `mailbox_stall_s` is stuck: until it takes one
        again, its messages are dropped at once instead of holding everyone.
        """
        mailbox = slot.mailbox
        if not mailbox.full():
            mailbox.put_nowait(envelope)
            return
        while mailbox.taken != slot.stuck_at:
            taken = mailbox.taken
            try:
                # Wall time, as the transport's own waits: this is about the socket, not the model.
                async with asyncio.timeout(self.config.mailbox_stall_s):
                    await mailbox.put(envelope)
                return
            except TimeoutError:
                if mailbox.taken == taken:  # nothing taken in the whole wait (else: slow, wait on)
                    slot.stuck_at = taken
        await self._refuse(slot, envelope)

    async def _refuse(self, slot: _Slot, envelope: Envelope) -> None:
        self._count_drop(
            slot.actor.log, "mailbox full, actor stuck", envelope, stall_s=self.config.mailbox_stall_s
        )
        if envelope.corr_id:
            full = MailboxFullError(slot.actor.name, self.config.mailbox_capacity)
            await self._reply(envelope, Failure(type(full).__name__, str(full)))

    def _count_drop(self, log: FilteringBoundLogger, reason: str, envelope: Envelope, **fields: Any) -> None:
        """Count a dropped message by reason and log it: each of the first few, then
        only at every power of two, so that a flood cannot become a flood of log lines."""
        self.dropped[reason] += 1
        count = self.dropped[reason]
        if sampled(count):
            kind, origin = envelope.body.kind, envelope.origin
            log.warning("message_dropped", reason=reason, count=count, kind=kind, origin=origin, **fields)
