"""What a node does with what its transport receives: routing, admission, backpressure, drops.

A received message is a reply (it resolves an ask), a message for one of the
node's actors (it goes into that actor's mailbox), or neither (dropped,
counted and logged, and an ask answered with a failure). A full mailbox holds
the receive loop, and through the socket's high-water mark the senders, only
while its actor keeps taking messages; see `Inbound._admit`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from typing import TYPE_CHECKING, Any

from structlog.typing import FilteringBoundLogger

from actors.errors import MailboxFullError
from actors.messages import Envelope, Failure, Heartbeat, Message

if TYPE_CHECKING:
    from actors.clock import Clock
    from actors.slots import NodeConfig, _Slot
    from actors.transport.base import Transport

_LOG_FIRST_DROPS = 10  # then only at every power of two, with the running count
_RECV_YIELD_EVERY = 64  # received messages between two turns given to the actors


class Inbound:
    """The receiving half of `Node` (a mixin: it uses the node's slots, routes and replies)."""

    transport: Transport | None
    config: NodeConfig
    log: FilteringBoundLogger
    dropped: Counter[str]
    heard: dict[str, float]
    clock: Clock
    _slots: dict[str, _Slot]
    _stop_requested: asyncio.Event | None
    _routes: dict[str, str]

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
        if envelope.sender and envelope.sender not in self._routes and envelope.sender not in self._slots:
            self._routes[envelope.sender] = envelope.origin  # learned route: reply to whoever wrote
        if self._only_a_heartbeat(envelope):
            return
        if envelope.is_reply:
            self._resolve(envelope)
            return
        slot = self._slots.get(envelope.receiver)
        if slot is None:
            self._drop_unknown_receiver(envelope)
            if envelope.corr_id:
                await self._reply(envelope, Failure("ActorNotFoundError", envelope.receiver))
            return
        await self._admit(slot, envelope)

    def _drop_unknown_receiver(self, envelope: Envelope) -> None:
        fields = {"kind": envelope.body.kind, "receiver": envelope.receiver, "origin": envelope.origin}
        if self._stop_requested is not None and self._stop_requested.is_set():
            # The node is stopping and its actors are gone: a late message (a server's
            # `Leave` racing the launcher's stop) is the normal end of a run, not news.
            self.dropped["node stopping"] += 1
            self.log.debug("message_dropped", reason="node stopping", **fields)
            return
        self._count_drop(self.log, "no such actor here", **fields)

    def _only_a_heartbeat(self, envelope: Envelope) -> bool:
        """Note that the sender lives (any message is a sign of life); whether the
        message was a `Heartbeat`, which no actor handles (see `actors.liveness`)."""
        if envelope.sender:
            self.heard[envelope.sender] = self.clock.now()
        return isinstance(envelope.body, Heartbeat)

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
            slot.actor.log,
            "mailbox full, actor stuck",
            kind=envelope.body.kind,
            origin=envelope.origin,
            stall_s=self.config.mailbox_stall_s,
        )
        if envelope.corr_id:
            full = MailboxFullError(slot.actor.name, self.config.mailbox_capacity)
            await self._reply(envelope, Failure(type(full).__name__, str(full)))

    def _count_drop(self, log: FilteringBoundLogger, reason: str, **fields: Any) -> None:
        """Count a dropped message by reason and log it: each of the first few, then
        only at every power of two, so that a flood cannot become a flood of log lines."""
        self.dropped[reason] += 1
        count = self.dropped[reason]
        if count <= _LOG_FIRST_DROPS or count & (count - 1) == 0:
            log.warning("message_dropped", reason=reason, count=count, **fields)
