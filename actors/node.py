"""`Node`: one per process; hosts many actors under one TaskGroup.

A node delivers messages between its own actors as objects (no encoding) and
routes the rest through its transport, using a directory that maps actor
names to node ids. Each actor has a bounded mailbox, handles one message at a
time, and survives its handlers raising. The node stops on `stop()` (or on
SIGINT/SIGTERM when asked to handle signals): every actor's `on_stop` runs,
every pending ask fails with a typed error, and the transport is closed.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import signal
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

import structlog

from actors.actor import Actor
from actors.clock import Clock, WallClock
from actors.codec import encode, wire_size
from actors.compression.edges import EdgeCodecs
from actors.delivery import DelayLine, LinkModel
from actors.dispatch import actor_loop, call_hook
from actors.errors import (
    ActorNotFoundError,
    ActorStoppedError,
    AskTimeoutError,
    DuplicateActorError,
    FedActorsError,
    MailboxFullError,
    NodeClosedError,
)
from actors.inbound import Inbound
from actors.mailbox import Mailbox
from actors.messages import Ack, Envelope, Failure, Heartbeat, Message
from actors.metrics import EventSink, Metrics, NullSink
from actors.slots import NodeConfig, NodeState, _Pending, _Slot, failure_to_error
from actors.transport.base import Transport

R = TypeVar("R")


class Node:
    """Hosts actors, routes their messages, and owns every task they start.

    Args:
        node_id: unique id in the run (also the transport's routing id).
        transport: how to reach other nodes; None for a node that is alone.
        clock: the actors' clock (a wall clock by default).
        config: mailbox bound, ask timeout, where compute runs.
        sink: where `Actor.metrics` records go.
        links: when set, every message arrives after the delay this model gives
            (latency + encoded bytes / bandwidth); sends then never raise for an
            unreachable peer: the failure is logged when the delivery is due.
        compression: the schemes of compressed edges; their `Task` and `Update`
            weights are compressed where they are routed (and so charged and
            encoded compressed), and expanded before the receiver's handler.
    """

    def __init__(
        self,
        node_id: str,
        transport: Transport | None = None,
        *,
        clock: Clock | None = None,
        config: NodeConfig | None = None,
        sink: EventSink | None = None,
        links: LinkModel | None = None,
        compression: EdgeCodecs | None = None,
    ) -> None:
        self.node_id = node_id
        self.transport = transport
        self.clock = clock or WallClock()
        self.config = config or NodeConfig()
        self.sink: EventSink = sink or NullSink()
        self.links = links
        self.compression = compression
        self._delay_line = DelayLine(self.clock) if links is not None else None
        self.log = structlog.get_logger("fedactors.node").bind(node=node_id)
        self._state = NodeState()
        self._slots, self._routes, self._pending = self._state.slots, self._state.routes, self._state.pending
        self._inbound = Inbound(self._state, transport, self.clock, self.config, self.log)
        if compression is not None:
            self._inbound.compress_reply = self._compressed  # a pairwise peer's model, pulled back
        self._corr_ids = itertools.count(1)
        self._tg: asyncio.TaskGroup | None = None
        self._stop_requested: asyncio.Event | None = None
        self._started = asyncio.Event()
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        self.dropped = self._inbound.dropped  # messages received and dropped, by reason
        self.heard = self._inbound.heard  # actor -> clock time its last message reached this node
        self.failure: str | None = None  # the first actor task that raised: the run has failed
        self.failed = asyncio.Event()

    # -- directory ---------------------------------------------------------------

    def add_route(self, actor: str, node_id: str, endpoint: str | None = None) -> None:
        """Record that `actor` lives on node `node_id` (reachable at `endpoint`)."""
        self._routes[actor] = node_id
        if endpoint is not None and self.transport is not None:
            self.transport.add_peer(node_id, endpoint)

    # -- actors ------------------------------------------------------------------

    def spawn(self, actor: Actor, name: str, *, start: bool = True) -> Actor:
        """Host `actor` under `name`; it starts now if the node runs, else with the node.

        With `start=False` its mailbox takes messages at once but it handles
        none (and `on_start` waits) until `start_actor(name)`: a launcher spawns
        every actor of a run first, then starts them, so no early message is lost.

        Raises:
            DuplicateActorError: an actor of that name already runs here.
            NodeClosedError: the node has shut down.
        """
        if self._closed:
            raise NodeClosedError(f"node {self.node_id!r} is shut down")
        if name in self._slots:
            raise DuplicateActorError(name)
        actor.name = name
        actor.context = self
        actor.clock = self.clock
        actor.log = structlog.get_logger("fedactors.actor").bind(node=self.node_id, actor=name)
        actor.metrics = Metrics(self.sink, self.clock, self.node_id, name)
        slot = _Slot(actor, Mailbox(self.config.mailbox_capacity), held=not start)
        self._slots[name] = slot
        if self._tg is not None and start:
            self._launch(slot)
        return actor

    def start_actor(self, name: str) -> None:
        """Start an actor spawned with `start=False` (no-op if it runs already).

        Raises:
            ActorNotFoundError: no actor of that name is hosted here.
        """
        slot = self._slots.get(name)
        if slot is None:
            raise ActorNotFoundError(name)
        slot.held = False
        if self._tg is not None and slot.loop_task is None:
            self._launch(slot)

    def stop_actor(self, name: str) -> None:
        """Stop actor `name` (its tasks are cancelled, `on_stop` runs)."""
        slot = self._slots.get(name)
        if slot is not None and self._tg is not None:
            self._tg.create_task(self._stop_slot(slot), name=f"stop-{name}")

    def start_actor_task(self, actor: str, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run `coro` for `actor` in the node's TaskGroup (see `Actor.start_task`).

        Raises:
            NodeClosedError: the node is not running.
        """
        if self._tg is None:
            coro.close()
            raise NodeClosedError(f"node {self.node_id!r} is not running")
        slot = self._slots[actor]
        task = self._tg.create_task(self._guarded(slot, coro, name), name=f"{actor}:{name}")
        slot.tasks.add(task)
        task.add_done_callback(slot.tasks.discard)
        # Cancelled before its first step, the task never awaits `coro`: close it (a no-op once run).
        task.add_done_callback(lambda _: coro.close())
        return task

    def last_heard(self, peer: str) -> float:
        """When anything last arrived from `peer` (clock time; -inf: never)."""
        return self.heard.get(peer, -math.inf)

    async def compute(self, fn: Callable[..., R], *args: Any) -> R:
        """Run CPU-bound work as `NodeConfig.compute` says (see `Actor.compute`)."""
        if self.config.compute == "inline":
            return fn(*args)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"compute-{self.node_id}")
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(fn, *args))

    # -- messaging -----------------------------------------------------------------

    async def send(self, sender: str, receiver: str, msg: Message) -> None:
        """Deliver `msg` from `sender` to `receiver`, local or remote (see `Actor.send`)."""
        await self._route(Envelope(sender, receiver, msg))

    def send_local_nowait(self, sender: str, receiver: str, msg: Message) -> None:
        """Deliver to a local mailbox without waiting (see `Actor.send_nowait`)."""
        slot = self._slots.get(receiver)
        if slot is None:
            raise ActorNotFoundError(receiver)
        try:
            slot.mailbox.put_nowait(Envelope(sender, receiver, msg))
        except asyncio.QueueFull:
            raise MailboxFullError(receiver, self.config.mailbox_capacity) from None

    async def ask(self, sender: str, receiver: str, msg: Message, timeout_s: float | None = None) -> Message:
        """Send and await the reply (see `Actor.ask` for the errors)."""
        if self._closed:
            raise NodeClosedError(f"node {self.node_id!r} is shut down")
        timeout = self.config.ask_timeout_s if timeout_s is None else timeout_s
        corr_id = next(self._corr_ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[corr_id] = _Pending(future, receiver)
        try:
            async with self.clock.timeout(timeout):
                await self._route(Envelope(sender, receiver, msg, corr_id))
                body = await future
        except TimeoutError:
            raise AskTimeoutError(receiver, msg.kind, timeout) from None
        finally:
            self._pending.pop(corr_id, None)
        if isinstance(body, Failure):
            raise failure_to_error(receiver, body)
        return body

    async def _route(self, envelope: Envelope) -> None:
        if self.compression is not None:
            envelope = self._compressed(envelope)
        if self.links is not None and self._delay_line is not None:
            nbytes = wire_size(encode(envelope))
            at = self.links.arrival(envelope.sender, envelope.receiver, nbytes, self.clock.now())
            self._delay_line.schedule(at, partial(self._deliver_late, envelope))
            return
        await self._deliver(envelope)

    def _compressed(self, envelope: Envelope) -> Envelope:
        assert self.compression is not None
        done = self.compression.compress(envelope)
        if done is None:
            return envelope
        sent, fields = done
        Metrics(self.sink, self.clock, self.node_id, envelope.sender).record("message_compressed", **fields)
        return sent

    async def _deliver_late(self, envelope: Envelope) -> None:
        try:
            await self._deliver(envelope)
        except FedActorsError as exc:
            self.log.warning(
                "message_lost", kind=envelope.body.kind, receiver=envelope.receiver, reason=str(exc)
            )

    async def _deliver(self, envelope: Envelope) -> None:
        slot = self._slots.get(envelope.receiver)
        if slot is not None:
            self._inbound.note(envelope)
            if not isinstance(envelope.body, Heartbeat):
                await slot.mailbox.put(envelope)
            return
        node_id = self._routes.get(envelope.receiver) or self._inbound.learned.get(envelope.receiver)
        if node_id is None or self.transport is None:
            raise ActorNotFoundError(envelope.receiver)
        await self.transport.send(node_id, envelope)

    # -- running -----------------------------------------------------------------

    async def run(self, *, handle_signals: bool = False) -> None:
        """Start the transport and the actors; return once `stop()` has been called.

        Args:
            handle_signals: stop cleanly on SIGINT and SIGTERM (for node processes).
        """
        self._stop_requested = asyncio.Event()
        if handle_signals:
            self._install_signal_handlers()
        if self.transport is not None:
            await self.transport.start()
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                recv_task = tg.create_task(self._inbound.recv_loop(), name="recv") if self.transport else None
                delays = tg.create_task(self._delay_line.run(), name="delays") if self._delay_line else None
                for slot in list(self._slots.values()):
                    if not slot.held:
                        self._launch(slot)
                self._started.set()
                await self._stop_requested.wait()
                await self._shutdown(recv_task)
                if delays is not None:
                    delays.cancel()
        finally:
            self._closed = True
            self._tg = None
            await self._release()

    def stop(self) -> None:
        """Request a clean shutdown (safe to call from a signal handler or a handler)."""
        if self._stop_requested is not None:
            self._state.stopping = True
            self._stop_requested.set()

    async def wait_started(self) -> None:
        """Wait until the transport is bound and every actor has been launched."""
        await self._started.wait()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)

    def _launch(self, slot: _Slot) -> None:
        assert self._tg is not None
        slot.loop_task = self._tg.create_task(
            actor_loop(slot, self._inbound), name=f"actor:{slot.actor.name}"
        )

    async def _guarded(self, slot: _Slot, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except Exception as exc:
            slot.actor.log.exception("task_failed", task=name)
            await call_hook(
                slot, slot.actor.on_failure(exc, Envelope("", slot.actor.name, Ack())), "on_failure"
            )
            self.fail(slot.actor.name, name, exc)

    def fail(self, actor: str, where: str, error: BaseException) -> None:
        """`actor`'s own work raised unexpectedly: stop it and this node, and mark the
        run failed (`failure`, `failed`): a silent stall is worse than a failed run."""
        if self.failure is None:
            self.failure = f"{actor}:{where}: {type(error).__name__}: {error}"
            self.log.error("run_failed", actor=actor, where=where, error=f"{type(error).__name__}: {error}")
        self.failed.set()
        self.stop_actor(actor)
        self.stop()

    # -- stopping ----------------------------------------------------------------

    async def _stop_slot(self, slot: _Slot) -> None:
        name = slot.actor.name
        if self._slots.get(name) is not slot:
            return
        del self._slots[name]
        self._state.stopped.add(name)
        tasks = [t for t in (slot.loop_task, *slot.tasks) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await call_hook(slot, slot.actor.on_stop(), "on_stop")
        self._state.fail_pending(ActorStoppedError, name)
        await self._inbound.refuse_mailbox(slot)
        slot.actor.log.debug("actor_stopped")

    async def _shutdown(self, recv_task: asyncio.Task[None] | None) -> None:
        # Last spawned, first stopped: infrastructure spawned first (a reporter)
        # still serves the others while they stop.
        for slot in reversed(list(self._slots.values())):
            await self._stop_slot(slot)
        self._state.fail_pending(lambda _: NodeClosedError(f"node {self.node_id!r} shut down"))
        if recv_task is not None:
            recv_task.cancel()

    async def _release(self) -> None:
        if self.transport is not None:
            await self.transport.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self.log.debug("node_stopped")


def run_process(main: Coroutine[Any, Any, R]) -> R:
    """Run a node process's main coroutine on uvloop (asyncio's own loop where uvloop is missing)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform we support
        return asyncio.run(main)
    return uvloop.run(main)
