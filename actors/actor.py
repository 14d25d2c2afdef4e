"""`Actor`: state plus handlers, one message at a time.

An actor declares one handler per message class:

    class Echo(Actor):
        @handler
        async def on_ping(self, msg: Ping, sender: str) -> Pong:
            return Pong(msg.n)

A handler's return value is the reply when the message came as an `ask` (None
replies `Ack`); for a `tell` it is dropped. Actors use only `self.send`,
`self.ask`, `self.clock`, `self.log`, `self.metrics`, `self.compute` and what
their node injects: they never learn whether they run in a simulation or in a
real deployment. What the node offers them is `ActorContext`, a small
interface the node implements; an actor never sees the node itself.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from actors.messages import Envelope, Message

if TYPE_CHECKING:
    import asyncio

    from structlog.typing import FilteringBoundLogger

    from actors.clock import Clock
    from actors.metrics import Metrics

Handler = Callable[[Any, Any, str], Awaitable[Message | None]]
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")


class ActorContext(Protocol):
    """What an actor's node does for it (`actors.node.Node` implements it): messages out,
    compute, tasks beside the mailbox, stopping, failing, and signs of life from peers."""

    async def send(self, sender: str, receiver: str, msg: Message) -> None: ...

    def send_local_nowait(self, sender: str, receiver: str, msg: Message) -> None: ...

    async def ask(
        self, sender: str, receiver: str, msg: Message, timeout_s: float | None = None
    ) -> Message: ...

    async def compute(self, fn: Callable[..., R], *args: Any) -> R: ...

    def start_actor_task(
        self, actor: str, coro: Coroutine[Any, Any, None], name: str
    ) -> asyncio.Task[None]: ...

    def stop_actor(self, name: str) -> None: ...

    def fail(self, actor: str, where: str, error: BaseException) -> None: ...

    def last_heard(self, peer: str) -> float:
        """When the node last received anything from `peer` (clock time; -inf: never)."""
        ...


def handler(fn: F) -> F:
    """Mark `fn(self, msg: SomeMessage, sender: str)` as the handler of `SomeMessage`.

    Raises:
        TypeError: the first argument is not annotated with a message class.
    """
    params = list(inspect.signature(fn).parameters)
    if len(params) != 3:
        raise TypeError(f"handler {fn.__qualname__} must take (self, msg, sender)")
    hints = typing.get_type_hints(fn)
    msg_type = hints.get(params[1])
    if not (isinstance(msg_type, type) and issubclass(msg_type, Message)):
        raise TypeError(f"handler {fn.__qualname__}: annotate {params[1]!r} with a message class")
    fn._handles = msg_type  # type: ignore[attr-defined]  # the handler's mark, read by the actor's dispatch
    return fn


class Actor:
    """Base class of every actor; see the module docstring.

    Attributes (injected by the node at `spawn`):
        name: unique name in the run.
        context: what the hosting node does for it (`ActorContext`).
        clock: the node's clock.
        log: a structlog logger bound with node and actor.
        metrics: records events for the run's event log.
    """

    _handlers: ClassVar[dict[type[Message], str]] = {}

    name: str
    context: ActorContext
    clock: Clock
    log: FilteringBoundLogger
    metrics: Metrics

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Walk the whole MRO (base first), so handlers of mixins count as well.
        handlers: dict[type[Message], str] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                msg_type = getattr(value, "_handles", None)
                if msg_type is not None:
                    handlers[msg_type] = attr
        cls._handlers = handlers

    # -- lifecycle hooks ---------------------------------------------------------

    async def on_start(self) -> None:
        """Called once the actor is registered, before its first message."""

    async def on_stop(self) -> None:
        """Called when the actor or its node stops; release what it holds."""

    async def on_failure(self, error: Exception, envelope: Envelope) -> None:
        """Called after a handler raised (the failure is already logged and the actor
        goes on) or a task it started raised (the actor then stops: see `start_task`)."""

    # -- what actors use --------------------------------------------------------

    async def send(self, to: str, msg: Message) -> None:
        """Tell `to` (waits while its mailbox or link is full).

        Raises:
            ActorNotFoundError: no route to `to`.
            PeerUnreachableError: its node does not take messages.
        """
        await self.context.send(self.name, to, msg)

    def send_nowait(self, to: str, msg: Message) -> None:
        """Tell a local actor without waiting.

        Raises:
            MailboxFullError: its mailbox is full.
            ActorNotFoundError: `to` is not an actor of this node.
        """
        self.context.send_local_nowait(self.name, to, msg)

    async def ask(self, to: str, msg: Message, timeout_s: float | None = None) -> Message:
        """Send `msg` and wait for the reply.

        Raises:
            AskTimeoutError: no reply within `timeout_s` (default: the node's).
            ActorStoppedError: `to` stopped before replying.
            RemoteActorError: `to`'s handler raised.
            ActorNotFoundError, PeerUnreachableError: as for `send`.
        """
        return await self.context.ask(self.name, to, msg, timeout_s)

    async def compute(self, fn: Callable[..., R], *args: Any) -> R:
        """Run CPU-bound `fn(*args)` (training, evaluation) where the node says.

        In a simulation it runs inline, so the virtual clock cannot move while
        it runs; in a real node it runs on the node's compute thread so the
        actor's messages and heartbeats keep flowing.
        """
        return await self.context.compute(fn, *args)

    def start_task(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `coro` beside the mailbox, owned by the node; cancelled when the actor stops.

        An exception escaping `coro` is the actor's own failure, which nobody
        else can see: it is logged with its traceback (`task_failed`),
        `on_failure` runs, then the actor and its node stop and the run fails
        (`Node.fail`; exit code 1) rather than stall silently.
        """
        return self.context.start_actor_task(self.name, coro, name)

    def stop(self) -> None:
        """Ask the node to stop this actor after the current message."""
        self.context.stop_actor(self.name)
