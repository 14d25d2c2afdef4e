"""Relay: a scheduler that forwards and never aggregates (FedLab's middle scheduler).

Its children's `Join` and `Update` go up wrapped as `Relayed(child, ...)`, so
the parent treats each child as its own client; the parent's `Task` and
`Leave` for a child come down wrapped and are unwrapped here. Relays nest: a
`Relayed` from a relay below is passed up unchanged, and the way back down is
remembered per child.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from actors.actor import Actor, handler
from actors.codec import build_message
from actors.errors import DecodeError
from actors.messages import Message
from actors.protocol import Join, Leave, Relayed, Update


class RelayConfig(BaseModel):
    """A relay has no settings."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["relay"] = "relay"


class RelayScheduler(Actor):
    """Forwards between `parent` and its group (see the module docstring)."""

    def __init__(self, parent: str) -> None:
        self.parent = parent
        self.via: dict[str, str] = {}  # child -> who its messages came from (itself or a relay below)
        self.forwarded = 0

    @handler
    async def on_join(self, msg: Join, sender: str) -> None:
        self.via[sender] = sender
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
            self.via[msg.child] = sender  # from a relay below: pass it up as it is
            await self.send(self.parent, msg)
            return
        target = self.via.get(msg.child)
        if target is None:
            self.log.warning("relayed_message_dropped", child=msg.child, reason="unknown_child")
            return
        if target != msg.child:
            await self.send(target, msg)
            return
        try:
            inner = build_message(msg.body_kind, msg.body)
        except DecodeError as exc:
            self.log.warning("relayed_message_dropped", child=msg.child, reason=str(exc))
            return
        self.forwarded += 1
        await self.send(msg.child, inner)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        """The parent ends the run for the relay itself: every child leaves too."""
        if sender != self.parent:
            return
        for child, via in sorted(self.via.items()):
            if via == child:
                await self.send(child, msg)

    async def _up(self, child: str, msg: Message) -> None:
        self.forwarded += 1
        await self.send(self.parent, Relayed(child, msg.kind, msg.to_fields()))
