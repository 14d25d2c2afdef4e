"""The ZeroMQ transport on real sockets: in one process, and between two OS processes."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import structlog.testing
import torch
import zmq

from actors import Actor, Node, handler
from actors.errors import AskTimeoutError, PeerUnreachableError
from actors.messages import Envelope
from actors.testing import running
from actors.transport.zeromq import ZmqConfig, ZmqTransport
from tests.actors.messages_for_tests import Blob, Ping, Pong

ROOT = Path(__file__).resolve().parents[3]


class Echo(Actor):
    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        return Pong(msg.n + 1)

    @handler
    async def on_blob(self, msg: Blob, sender: str) -> Blob:
        return Blob("back", msg.tree)


class Probe(Actor):
    pass


def state_dict() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "conv.weight": torch.randn(16, 3, 3, 3, generator=g),
        "conv.bias": torch.randn(16, generator=g),
        "fc.weight": torch.randn(10, 64, generator=g).t(),
        "bn.num_batches_tracked": torch.tensor(7),
        "mask": torch.rand(5, generator=g) > 0.5,
        "half": torch.randn(4, generator=g).half(),
    }


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key


def bind_addresses(tmp_path: Path) -> list[tuple[str, str]]:
    return [
        ("tcp://127.0.0.1:*", "tcp://127.0.0.1:*"),
        (f"ipc://{tmp_path}/a.sock", f"ipc://{tmp_path}/b.sock"),
    ]


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_two_nodes_exchange_a_state_dict_both_ways(tmp_path: Path, scheme: str) -> None:
    bind_a, bind_b = dict(zip(["tcp", "ipc"], bind_addresses(tmp_path), strict=True))[scheme]
    a = Node("a", ZmqTransport("a", bind_a))
    b = Node("b", ZmqTransport("b", bind_b))
    probe_a = a.spawn(Probe(), "probe-a")
    probe_b = b.spawn(Probe(), "probe-b")
    b.spawn(Echo(), "echo-b")
    a.spawn(Echo(), "echo-a")

    async with running(a, b):
        a.add_route("echo-b", "b", b.transport.endpoint)
        reply = await probe_a.ask("echo-b", Blob("sd", state_dict()))
        # b never learned a's endpoint: it answers over the connection a made.
        b.add_route("echo-a", "a")
        back = await probe_b.ask("echo-a", Ping(1))

    assert_same(state_dict(), reply.tree)
    assert back == Pong(2)


async def test_garbage_frames_from_a_raw_socket_are_logged_dropped_and_the_node_serves_on() -> None:
    node = Node("srv", ZmqTransport("srv"))
    node.spawn(Echo(), "echo")
    client = Node("cli", ZmqTransport("cli"))
    probe = client.spawn(Probe(), "probe")
    garbage = [
        [b"\xc1\xc1"],
        [b"\x93\x01\x02\x03"],
        [],
        [b"x" * 10, b"y"],
        [b"\x97\x01\xa4nope\xa1a\xa1b\x00\x00\x80"],
    ]

    with structlog.testing.capture_logs() as logs:
        async with running(node, client):
            ctx = zmq.Context()
            raw = ctx.socket(zmq.DEALER)
            raw.setsockopt(zmq.LINGER, 0)
            raw.connect(node.transport.endpoint)
            for frames in garbage:
                raw.send_multipart(frames or [b""])
            client.add_route("echo", "srv", node.transport.endpoint)
            reply = await probe.ask("echo", Ping(5))
            raw.close()
            ctx.term()

    dropped = [e for e in logs if e["event"] == "message_dropped"]
    assert reply == Pong(6)
    assert len(dropped) == len(garbage)
    assert {e["error"] for e in dropped} >= {"MalformedEnvelopeError", "UnknownKindError"}


async def test_sending_to_an_unknown_node_is_an_error_not_a_silent_drop() -> None:
    node = Node("a", ZmqTransport("a"))
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        node.add_route("far", "nowhere")
        with pytest.raises(PeerUnreachableError, match="no endpoint known"):
            await probe.send("far", Ping(1))


async def test_a_malformed_peer_endpoint_is_a_typed_error() -> None:
    node = Node("a", ZmqTransport("a"))
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        node.add_route("far", "odd", "tcp://no-port-here")
        with pytest.raises(PeerUnreachableError, match="cannot connect"):
            await probe.send("far", Ping(1))


async def test_sending_to_an_endpoint_nobody_listens_on_fails_within_the_connect_timeout(
    tmp_path: Path,
) -> None:
    node = Node("a", ZmqTransport("a", config=ZmqConfig(connect_timeout_s=0.2)))
    probe = node.spawn(Probe(), "probe")

    async with running(node):
        node.add_route("far", "ghost", f"ipc://{tmp_path}/nobody.sock")
        with pytest.raises(PeerUnreachableError, match=r"no handshake within 0.2 s"):
            await probe.send("far", Ping(1))


async def test_ask_to_a_node_that_stopped_fails_with_a_typed_error_within_its_timeout() -> None:
    a = Node("a", ZmqTransport("a", config=ZmqConfig(connect_timeout_s=0.3)))
    b = Node("b", ZmqTransport("b"))
    probe = a.spawn(Probe(), "probe")
    b.spawn(Echo(), "echo")

    async with running(a):
        async with running(b):
            a.add_route("echo", "b", b.transport.endpoint)
            assert await probe.ask("echo", Ping(1)) == Pong(2)
        with pytest.raises((AskTimeoutError, PeerUnreachableError)):
            await probe.ask("echo", Ping(2), timeout_s=1.0)


# -- two OS processes ----------------------------------------------------------------


@contextmanager
def node_process(bind: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with endpoint_process("tests.actors.node_process", bind) as started:
        yield started


@contextmanager
def endpoint_process(module: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m MODULE ARGS` that prints its endpoint as its first stdout line; killed and reaped after."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().strip()
        assert endpoint, proc.stderr.read() if proc.stderr else ""
        yield proc, endpoint
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # reaps it and closes its pipes


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_two_os_processes_exchange_a_state_dict(tmp_path: Path, scheme: str) -> None:
    bind = "tcp://127.0.0.1:*" if scheme == "tcp" else f"ipc://{tmp_path}/store.sock"
    node = Node("tester", ZmqTransport("tester"))
    probe = node.spawn(Probe(), "probe")

    with node_process(bind) as (proc, endpoint):
        async with running(node):
            node.add_route("store", "store-node", endpoint)
            reply = await probe.ask("store", Blob("sd", state_dict()), timeout_s=20)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)

    assert endpoint.startswith(f"{scheme}://")
    assert reply.tag == "back:sd"
    assert reply.note == "probe"
    assert_same(state_dict(), reply.tree)
    assert proc.returncode == 0


def test_a_node_stopped_with_sigterm_exits_0_and_leaves_nothing_open(tmp_path: Path) -> None:
    with node_process(f"ipc://{tmp_path}/n.sock") as (proc, _endpoint):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)

    report = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == 0, err
    assert report == {"tasks": [], "threads": ["MainThread"], "os_threads_left": 0, "socket_fds_left": 0}


async def test_a_cancelled_receive_does_not_eat_the_next_message() -> None:
    # pyzmq's own check (zmq/tests/test_asyncio.py, test_recv_cancel): a receive cancelled
    # while it waits must give its place back, so the next receive gets the next message.
    sender, receiver = ZmqTransport("a"), ZmqTransport("b")
    await sender.start()
    await receiver.start()
    try:
        sender.add_peer("b", receiver.endpoint)
        waiting = asyncio.create_task(receiver.recv())
        await asyncio.sleep(0)  # the receive is now waiting on the socket (no timing involved)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

        await sender.send("b", Envelope("probe", "echo", Ping(1)))
        await sender.send("b", Envelope("probe", "echo", Ping(2)))
        async with asyncio.timeout(30):
            first, second = await receiver.recv(), await receiver.recv()
    finally:
        await sender.close()
        await receiver.close()

    assert waiting.cancelled()
    assert (first.body, second.body) == (Ping(1), Ping(2))
