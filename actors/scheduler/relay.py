"""Relay: a scheduler that forwards and never aggregates (FedLab's middle scheduler).

Its children's `Join` and `Update` go up wrapped as `Relayed(child, ...)`, so
the parent treats each child as its own client; the parent's `Task` and
`Leave` for a child come down wrapped and are unwrapped here. Relays nest: a
`Relayed` from a relay below is passed up unchanged, and the way back down is
remembered per child.

With heartbeats it watches its parent and the children (or relays) below it:
a child that falls silent is reported up as `Relayed(child, Leave)`, and a
lost parent is replaced by the next fallback, to which every child's `Join`
is sent again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from actors.actor import Actor, handler
from actors.errors import FedActorsError
from actors.liveness import Heartbeats, Liveness, ParentLink
from actors.logs import sampled
from actors.protocol import Join, Leave, Relayed, Update
from actors.relays import Rejection, Relays, relay_rejection


class RelayScheduler(Actor):
    """Forwards between `parent` and its group (see the module docstring).

    Args:
        parent: the actor above it.
        fallbacks: parents to join in turn if the parent is lost.
        heartbeats: watch the parent and the children (None: never).
        relays: the relays below it whose `Relayed` it passes up, each with the
            children it may speak for (None: anyone's; see `actors.relays`).
    """

    def __init__(
        self,
        parent: str,
        fallbacks: Sequence[str] = (),
        heartbeats: Heartbeats | None = None,
        relays: Relays | None = None,
    ) -> None:
        self.link = ParentLink(parent, fallbacks)
        self.relays = relays
        self.refused: Counter[str] = Counter()  # Relayed refused, by reason
        self.via: dict[str, str] = {}  # child -> who its messages came from (itself or a relay below)
        self.joins: dict[str, Relayed] = {}  # child -> its Join, as sent up (sent again on re-homing)
        self.forwarded = 0
        self.liveness = Liveness(self, heartbeats, self._lost) if heartbeats else None

    @property
    def parent(self) -> str:
        return self.link.parent

    @handler
    async def on_join(self, msg: Join, sender: str) -> None:
        self.via[sender] = sender
        self._watch(sender)
        self.joins[sender] = Relayed(sender, msg)
        await self._up(sender, msg)

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        if self.via.get(sender) != sender:
            self.log.warning("update_dropped", child=sender, reason="not_joined")
            return
        await self._up(sender, msg)

    @handler
    async def on_relayed(self, msg: Relayed, sender: str) -> None:
        if sender != self.parent:
            refused = relay_rejection(self.relays, sender, msg.child)
            if refused is not None:
                self._refuse(refused, sender, msg.child)
                return
            self.via[msg.child] = sender  # from a relay below: pass it up as it is
            self._watch(sender)
            if isinstance(msg.body, Join):
                self.joins[msg.child] = msg
            await self.send(self.parent, msg)
            return
        target = self.via.get(msg.child)
        if target is None:
            self.log.warning("relayed_message_dropped", child=msg.child, reason="unknown_child")
            return
        if target != msg.child:
            await self.send(target, msg)
            return
        self.forwarded += 1
        await self.send(msg.child, msg.body)  # decoded and checked with the Relayed

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        """The parent ends the run for the relay itself: every child leaves too.
        A child that leaves is reported up."""
        if sender != self.parent:
            if self.via.get(sender) == sender:
                await self._forget(sender, msg)
            return
        if self.liveness is not None:
            self.liveness.unwatch(sender)
        for child, via in sorted(self.via.items()):
            if via == child:
                await self.send(child, msg)

    def _refuse(self, refused: Rejection, relay: str, child: str) -> None:
        self.refused[refused.reason] += 1
        count = self.refused[refused.reason]
        if sampled(count):
            self.log.warning(
                "relayed_message_dropped", relay=relay, child=child, reason=refused.reason, count=count
            )

    async def _lost(self, peer: str) -> None:
        if peer != self.parent:
            for child in sorted(c for c, via in self.via.items() if via == peer):
                await self._forget(child, Leave("silent"))
            return
        new = self.link.lost(peer)
        self.log.warning("parent_lost", parent=peer, joins=new)
        self._watch(new)
        for child in sorted(self.joins):
            try:
                await self.send(new, self.joins[child])
            except FedActorsError as exc:  # unreachable too: found lost again, then retried
                self.log.warning("join_not_sent", parent=new, child=child, reason=str(exc))
                return

    async def _forget(self, child: str, leave: Leave) -> None:
        self.via.pop(child, None)
        self.joins.pop(child, None)
        await self._up(child, leave)

    def _watch(self, peer: str) -> None:
        if self.liveness is None:
            return
        for watched in (self.parent, peer):
            if watched not in self.liveness:
                self.liveness.watch(watched)

    async def _up(self, child: str, msg: Join | Update | Leave) -> None:
        self.forwarded += 1
        await self.send(self.parent, Relayed(child, msg))
