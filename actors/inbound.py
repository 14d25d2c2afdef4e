"""What a node does with what its transport receives: routing, admission, backpressure, drops.

A received message is a reply (it resolves an ask), a message for one of the
node's actors (it goes into that actor's mailbox), or neither (dropped,
counted and logged, and an ask answered with a failure). A full mailbox holds
the receive loop, and through the socket's high-water mark the senders, only
while its actor keeps taking messages; see `Inbound._admit`. The
node owns one `Inbound`, composed in, and shares its tables with it (`NodeState`).

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
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from structlog.typing import FilteringBoundLogger

from actors.compression.edges import expand_any, is_compressed
from actors.errors import DecodeError, FedActorsError, MailboxFullError
from actors.identities import IdentityTable
from actors.logs import sampled
from actors.messages import REPLY, Envelope, Failure, Heartbeat, Message

if TYPE_CHECKING:
    from actors.clock import Clock
    from actors.slots import NodeConfig, NodeState, _Slot
    from actors.transport.base import Transport

_RECV_YIELD_EVERY = 64  # received messages between two turns given to the actors


class Inbound:
    """A node's receiver: admits what its transport receives, answers asks, counts drops.

    Args:
        state: the node's tables (slots, directory, pending asks), shared with the node.
        transport: where messages arrive from and replies leave by; None for a lone node.
        clock: stamps each sign of life (`heard`).
        config: the mailbox bound and how long a full one may hold the receive loop.
        log: the node's logger.
    """

    def __init__(
        self,
        state: NodeState,
        transport: Transport | None,
        clock: Clock,
        config: NodeConfig,
        log: FilteringBoundLogger,
    ) -> None:
        self.state = state
        self.transport = transport
        self.clock = clock
        self.config = config
        self.log = log
        self.dropped: Counter[str] = Counter()  # messages received and dropped, by reason
        # actor -> clock time its last message reached this node
        self.heard: IdentityTable[float] = IdentityTable("heard", state.knows, log)
        # actor -> the node it wrote from, for senders not in the directory
        self.learned: IdentityTable[str] = IdentityTable("routes", state.knows, log)
        # the node's compression of a reply on a compressed edge (None: replies go as they are)
        self.compress_reply: Callable[[Envelope], Envelope] | None = None

    async def recv_loop(self) -> None:
        """Take every received message to where it goes, until cancelled."""
        assert self.transport is not None
        for received in itertools.count(1):
            # As in the actor loop: hold no reference to a message between receives.
            await self._accept(await self.transport.recv())
            if received % _RECV_YIELD_EVERY == 0:
                # A receive that finds a message waiting does not suspend: under a flood
                # this loop would otherwise keep the event loop from every actor.
                await asyncio.sleep(0)

    async def reply(self, request: Envelope, body: Message) -> None:
        """Answer `request` (an ask) with `body`, to its asker here or on its node."""
        reply = Envelope(request.receiver, request.sender, body, request.corr_id, REPLY)
        if self.compress_reply is not None:
            reply = self.compress_reply(reply)
        try:
            if request.origin and self.transport is not None:
                await self.transport.send(request.origin, reply)
            else:
                self.resolve(reply)
        except FedActorsError as exc:
            self.log.warning("reply_lost", to=request.sender, kind=body.kind, reason=str(exc))

    def resolve(self, reply: Envelope) -> None:
        """Hand `reply` to the ask that awaits it (a late one is dropped)."""
        pending = self.state.pending.get(reply.corr_id)
        if pending is None or pending.future.done():
            self.log.debug("late_reply_dropped", sender=reply.sender, corr_id=reply.corr_id)
            return
        body = reply.body
        if is_compressed(body):
            try:
                body = expand_any(body)
            except DecodeError as exc:
                self.log.warning("reply_dropped", sender=reply.sender, reason=str(exc))
                return  # the ask times out, as for a reply lost on the way
        pending.future.set_result(body)

    async def refuse_mailbox(self, slot: _Slot) -> None:
        """Answer every ask left in a stopped actor's mailbox with `ActorStoppedError`."""
        while not slot.mailbox.empty():
            envelope = slot.mailbox.get_nowait()
            if envelope.corr_id and not envelope.is_reply:
                await self.reply(envelope, Failure("ActorStoppedError", slot.actor.name))

    async def _accept(self, envelope: Envelope) -> None:
        if not self._from_its_node(envelope):
            return
        if envelope.is_reply:
            if envelope.corr_id in self.state.pending:
                self.note(envelope)
            self.resolve(envelope)
            return
        slot = self.state.slots.get(envelope.receiver)
        if slot is None:
            if not isinstance(envelope.body, Heartbeat):  # a beat to a stopped actor is no news
                await self._no_such_actor(envelope)
            return
        self.note(envelope)
        if not isinstance(envelope.body, Heartbeat):  # no actor handles it (see `actors.liveness`)
            await self._admit(slot, envelope)

    def _from_its_node(self, envelope: Envelope) -> bool:
        """False (and the message dropped) if its sender is placed on another node than its origin."""
        placed = self.state.routes.get(envelope.sender)
        if placed is None or not envelope.origin or placed == envelope.origin:
            return True
        self.count_drop(
            self.log, "sender not on its node", envelope, sender=envelope.sender, placed_on=placed
        )
        return False

    def note(self, envelope: Envelope) -> None:
        """Note that the sender lives (any message is a sign of life), and learn where
        to answer it if the directory does not say."""
        sender = envelope.sender
        if not sender:
            return
        self.heard[sender] = self.clock.now()
        if envelope.origin and not self.state.knows(sender):
            self.learned[sender] = envelope.origin

    async def _no_such_actor(self, envelope: Envelope) -> None:
        stopping = self.state.stopping
        if stopping or envelope.receiver in self.state.stopped:
            # The actor is gone at the run's end: a late message (a server's `Leave` racing
            # the launcher's stop, a neighbour's last gossip to a peer that left) is no news.
            reason = "node stopping" if stopping else "actor stopped"
            self.dropped[reason] += 1
            self.log.debug("message_dropped", reason=reason, kind=envelope.body.kind)
        else:
            self.count_drop(self.log, "no such actor here", envelope, receiver=envelope.receiver)
        if envelope.corr_id:
            await self.reply(envelope, Failure("ActorNotFoundError", envelope.receiver))

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
        self.count_drop(
            slot.actor.log, "mailbox full, actor stuck", envelope, stall_s=self.config.mailbox_stall_s
        )
        if envelope.corr_id:
            full = MailboxFullError(slot.actor.name, self.config.mailbox_capacity)
            await self.reply(envelope, Failure(type(full).__name__, str(full)))

    def count_drop(self, log: FilteringBoundLogger, reason: str, envelope: Envelope, **fields: Any) -> None:
        """Count a dropped message by reason and log it: each of the first few, then
        only at every power of two, so that a flood cannot become a flood of log lines."""
        self.dropped[reason] += 1
        count = self.dropped[reason]
        if sampled(count):
            kind, origin = envelope.body.kind, envelope.origin
            log.warning("message_dropped", reason=reason, count=count, kind=kind, origin=origin, **fields)
