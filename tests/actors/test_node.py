"""The runtime on one node and on two nodes joined by the local transport."""

from __future__ import annotations

import asyncio

import pytest
import structlog.testing

from actors import Actor, Node, NodeConfig, handler
from actors.errors import (
    ActorNotFoundError,
    ActorStoppedError,
    AskTimeoutError,
    DuplicateActorError,
    MailboxFullError,
    RemoteActorError,
)
from actors.messages import Ack, Envelope
from actors.metrics import ListSink
from actors.testing import running
from actors.transport.local import LocalHub, LocalTransport
from sims.virtual_time import run_virtual
from tests.actors.messages_for_tests import Blob, Ping, Pong


class Echo(Actor):
    def __init__(self) -> None:
        self.seen: list[int] = []
        self.failures: list[str] = []
        self.stopped = False

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        if msg.n < 0:
            raise ValueError(f"negative ping {msg.n}")
        self.seen.append(msg.n)
        self.metrics.record("pinged", n=msg.n, sender=sender)
        return Pong(msg.n + 1)

    async def on_failure(self, error: Exception, envelope: Envelope) -> None:
        self.failures.append(str(error))

    async def on_stop(self) -> None:
        self.stopped = True


class Silent(Actor):
    """Takes pings and never answers until released."""

    def __init__(self) -> None:
        self.received = asyncio.Event()
        self.release = asyncio.Event()

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> None:
        self.received.set()
        await self.release.wait()


class Probe(Actor):
    """An actor the test drives from outside."""


async def test_ask_returns_the_handlers_reply_and_tell_is_handled_in_order() -> None:
    node = Node("n1")
    echo = node.spawn(Echo(), "echo")
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        for n in range(5):
            await probe.send("echo", Ping(n))
        reply = await probe.ask("echo", Ping(41))

    assert reply == Pong(42)
    assert echo.seen == [0, 1, 2, 3, 4, 41]


async def test_a_handler_that_raises_does_not_stop_the_actor_or_the_node() -> None:
    node = Node("n1")
    echo = node.spawn(Echo(), "echo")
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        with pytest.raises(RemoteActorError, match="ValueError: negative ping -1"):
            await probe.ask("echo", Ping(-1))
        await probe.send("echo", Ping(-2))
        after = await probe.ask("echo", Ping(1))

    assert after == Pong(2)
    assert echo.failures == ["negative ping -1", "negative ping -2"]


def test_ask_to_a_silent_actor_fails_with_ask_timeout_error_when_its_timeout_passes() -> None:
    async def main() -> float:
        node = Node("n1")
        silent = node.spawn(Silent(), "silent")
        probe = node.spawn(Probe(), "probe")
        async with running(node):
            asked_at = asyncio.get_running_loop().time()
            with pytest.raises(AskTimeoutError, match=r"ask 'test.ping' to 'silent': no reply within 30 s"):
                await probe.ask("silent", Ping(1), timeout_s=30)
            waited = asyncio.get_running_loop().time() - asked_at
            silent.release.set()
        return waited

    waited = run_virtual(main())  # virtual time: the 30 s cost no wall time and are exact

    assert waited == 30.0


def test_ask_to_an_actor_that_stops_fails_with_actor_stopped_error_before_its_timeout() -> None:
    async def main() -> float:
        node = Node("n1")
        silent = node.spawn(Silent(), "silent")
        probe = node.spawn(Probe(), "probe")
        async with running(node):
            ask = asyncio.create_task(probe.ask("silent", Ping(1), timeout_s=5))
            await silent.received.wait()  # the ask is in its handler
            node.stop_actor("silent")
            with pytest.raises(ActorStoppedError, match="'silent' stopped before it replied"):
                await ask
            return asyncio.get_running_loop().time()

    failed_at = run_virtual(main())

    assert failed_at == 0.0  # at once, not after the 5 s timeout


async def test_ask_to_an_unknown_actor_fails_at_once() -> None:
    node = Node("n1")
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        with pytest.raises(ActorNotFoundError, match="no actor named 'ghost'"):
            await probe.ask("ghost", Ping(1))


async def test_send_nowait_to_a_full_mailbox_raises_mailbox_full_error() -> None:
    node = Node("n1", config=NodeConfig(mailbox_capacity=2))
    node.spawn(Echo(), "echo")
    probe = node.spawn(Probe(), "probe")

    probe.send_nowait("echo", Ping(1))
    probe.send_nowait("echo", Ping(2))

    with pytest.raises(MailboxFullError, match=r"mailbox of 'echo' is full \(2 messages\)"):
        probe.send_nowait("echo", Ping(3))


async def test_spawning_a_second_actor_with_the_same_name_is_refused() -> None:
    node = Node("n1")
    node.spawn(Echo(), "echo")

    with pytest.raises(DuplicateActorError, match="'echo' already runs"):
        node.spawn(Echo(), "echo")


async def test_stopping_the_node_runs_on_stop_and_records_metrics() -> None:
    sink = ListSink()
    node = Node("n1", sink=sink)
    echo = node.spawn(Echo(), "echo")
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        await probe.ask("echo", Ping(3))

    assert echo.stopped
    (record,) = sink.of("pinged")
    assert (record["node"], record["actor"], record["n"], record["sender"]) == ("n1", "echo", 3, "probe")
    assert set(record) >= {"t", "vt"}


async def test_a_failing_background_task_is_logged_and_stops_its_actor_and_its_node() -> None:
    node = Node("n1")
    echo = node.spawn(Echo(), "echo")

    async def boom() -> None:
        raise RuntimeError("task broke")

    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(10):
            run = asyncio.create_task(node.run())
            await node.wait_started()
            echo.start_task(boom(), "boom")
            await run  # the node stopped itself: no silent stall

    assert echo.failures == ["task broke"]
    assert echo.stopped
    assert node.failed.is_set()
    assert node.failure == "echo:boom: RuntimeError: task broke"
    failed = [e for e in logs if e["event"] == "task_failed"]
    assert failed[0]["task"] == "boom"
    assert failed[0]["exc_info"] is True  # logged with its traceback
    assert [e["event"] for e in logs if e["event"] == "run_failed"] == ["run_failed"]


async def test_two_nodes_on_the_local_transport_route_by_directory_and_reply() -> None:
    hub = LocalHub()
    a, b = Node("a", LocalTransport("a", hub)), Node("b", LocalTransport("b", hub))
    probe = a.spawn(Probe(), "probe")
    echo = b.spawn(Echo(), "echo")
    a.add_route("echo", "b")

    async with running(a, b):
        await probe.send("echo", Ping(7))
        reply = await probe.ask("echo", Ping(8))

    assert reply == Pong(9)
    assert echo.seen == [7, 8]


async def test_a_remote_ask_to_a_missing_actor_fails_with_actor_not_found() -> None:
    hub = LocalHub()
    a, b = Node("a", LocalTransport("a", hub)), Node("b", LocalTransport("b", hub))
    probe = a.spawn(Probe(), "probe")
    a.add_route("ghost", "b")

    async with running(a, b):
        with pytest.raises(ActorNotFoundError, match="'ghost'"):
            await probe.ask("ghost", Ping(1))


async def test_an_actor_without_a_handler_for_a_kind_replies_a_typed_failure() -> None:
    node = Node("n1")
    node.spawn(Echo(), "echo")
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        with pytest.raises(RemoteActorError, match="UnhandledMessageError"):
            await probe.ask("echo", Blob("x", None))
        ack = await probe.ask("echo", Ping(0))

    assert ack == Pong(1)
    assert Ack() == Ack()


async def test_a_message_for_a_gone_actor_while_the_node_stops_is_counted_without_a_warning() -> None:
    with structlog.testing.capture_logs() as logs:
        node = Node("n1")
        node._state.stopping = True
        await node._inbound._accept(Envelope("server", "client-001", Ping(1)))

    assert node.dropped == {"node stopping": 1}
    assert [e for e in logs if e["log_level"] != "debug"] == []


async def test_a_message_for_an_unknown_actor_of_a_running_node_is_warned() -> None:
    with structlog.testing.capture_logs() as logs:
        node = Node("n1")
        await node._inbound._accept(Envelope("server", "ghost", Ping(1)))

    assert node.dropped == {"no such actor here": 1}
    assert [(e["log_level"], e["reason"]) for e in logs] == [("warning", "no such actor here")]
