"""How a node runs one actor: its loop over the mailbox, each message to its handler, its hooks.

An actor handles one message at a time and survives its handlers raising: the
failure is logged, an ask is answered with a `Failure`, and `on_failure` runs.
A compressed message is expanded first; one that does not expand is dropped.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from actors.compression.edges import expand_any, is_compressed
from actors.errors import DecodeError
from actors.messages import Ack, Envelope, Failure

if TYPE_CHECKING:
    from actors.inbound import Inbound
    from actors.slots import _Slot


async def actor_loop(slot: _Slot, inbound: Inbound) -> None:
    """Start `slot`'s actor and hand it its messages one at a time, until cancelled."""
    actor = slot.actor
    await call_hook(slot, actor.on_start(), "on_start")
    while True:
        # No local name for the envelope: while we wait for the next one the
        # previous message (and its tensor frames) must already be freed.
        await dispatch(slot, await slot.mailbox.get(), inbound)


async def dispatch(slot: _Slot, envelope: Envelope, inbound: Inbound) -> None:
    """Run the actor's handler of `envelope` and answer it if it is an ask."""
    actor = slot.actor
    if is_compressed(envelope.body):
        try:
            body = expand_any(envelope.body)
            envelope = Envelope(envelope.sender, envelope.receiver, body, *_rest(envelope))
        except DecodeError as exc:
            inbound.count_drop(actor.log, "undecodable compressed weights", envelope, error=str(exc))
            return
    method = actor._handlers.get(type(envelope.body))
    if method is None:
        inbound.count_drop(actor.log, "no handler", envelope, sender=envelope.sender)
        if envelope.corr_id:
            await inbound.reply(
                envelope, Failure("UnhandledMessageError", f"no handler for {envelope.body.kind!r}")
            )
        return
    try:
        result = await getattr(actor, method)(envelope.body, envelope.sender)
    except Exception as exc:
        actor.log.exception("handler_failed", kind=envelope.body.kind, sender=envelope.sender)
        if envelope.corr_id:
            await inbound.reply(envelope, Failure(type(exc).__name__, str(exc)))
        await call_hook(slot, actor.on_failure(exc, envelope), "on_failure")
        return
    if envelope.corr_id:
        await inbound.reply(envelope, result if result is not None else Ack())


async def call_hook(slot: _Slot, coro: Coroutine[Any, Any, None], hook: str) -> None:
    """Await one of the actor's hooks (`on_start`, `on_stop`, `on_failure`); log it if it raises."""
    try:
        await coro
    except Exception:
        slot.actor.log.exception("hook_failed", hook=hook)


def _rest(envelope: Envelope) -> tuple[int, int, str]:
    return envelope.corr_id, envelope.flags, envelope.origin
