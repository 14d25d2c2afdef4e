"""CURVE on the ZeroMQ transport: encrypted, authenticated, and refusing everyone else."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import pytest
import structlog.testing
import torch

from actors import Actor, Node, handler
from actors.errors import PeerUnreachableError
from actors.transport.curve import CurveConfig, write_key_pair
from actors.transport.zeromq import ZmqConfig, ZmqTransport, new_curve_key_pair
from launcher.keys import make_node_keys, node_zmq_config
from tests.actors.messages_for_tests import Blob, Ping, Pong
from tests.actors.transport.test_zeromq import Echo, Probe, assert_same, endpoint_process, running, state_dict
from topologies.specs.security import SecuritySpec

ROOT = Path(__file__).resolve().parents[3]
KeyPair = tuple[str, str]


class Inbox(Actor):
    """Keeps every message it is told, and answers pings (so senders know what arrived)."""

    def __init__(self) -> None:
        self.received: list[object] = []

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        self.received.append(msg)
        return Pong(msg.n + 1)

    @handler
    async def on_blob(self, msg: Blob, sender: str) -> None:
        self.received.append(msg)


def curve(pair: KeyPair, allowed: list[KeyPair], servers: dict[str, KeyPair] | None = None) -> ZmqConfig:
    keys = CurveConfig(
        public_key=pair[0],
        secret_key=pair[1],
        allowed_clients=frozenset(p[0] for p in allowed),
        server_keys={n: p[0] for n, p in (servers or {}).items()},
    )
    return ZmqConfig(curve=keys, connect_timeout_s=10.0)


def known_pattern() -> torch.Tensor:
    """4 KiB of float32 that no handshake or header could contain by chance."""
    return torch.arange(1024, dtype=torch.float32) * 1.25 + 7.0


@pytest.fixture
def keys() -> dict[str, KeyPair]:
    return {name: new_curve_key_pair() for name in ("server", "client", "intruder")}


@pytest.mark.parametrize("scheme", ["tcp", "ipc"])
async def test_two_nodes_exchange_a_state_dict_over_curve_bit_for_bit(
    keys: dict[str, KeyPair], tmp_path: Path, scheme: str
) -> None:
    server_pair, client_pair = keys["server"], keys["client"]
    binds = {
        "tcp": ("tcp://127.0.0.1:*",) * 2,
        "ipc": (f"ipc://{tmp_path}/a.sock", f"ipc://{tmp_path}/b.sock"),
    }
    a = Node("a", ZmqTransport("a", binds[scheme][0], curve(client_pair, [server_pair], {"b": server_pair})))
    b = Node("b", ZmqTransport("b", binds[scheme][1], curve(server_pair, [client_pair])))
    probe_a = a.spawn(Probe(), "probe-a")
    probe_b = b.spawn(Probe(), "probe-b")
    b.spawn(Echo(), "echo-b")
    a.spawn(Echo(), "echo-a")

    async with running(a, b):
        a.add_route("echo-b", "b", b.transport.endpoint)
        reply = await probe_a.ask("echo-b", Blob("sd", state_dict()))
        b.add_route("echo-a", "a")  # b answers over the connection a made
        back = await probe_b.ask("echo-a", Ping(1))

    assert_same(state_dict(), reply.tree)
    assert back == Pong(2)


async def test_a_node_whose_key_is_not_allowed_is_refused_and_nothing_it_sends_arrives(
    keys: dict[str, KeyPair],
) -> None:
    server_pair, client_pair, intruder_pair = keys["server"], keys["client"], keys["intruder"]
    server = Node("srv", ZmqTransport("srv", config=curve(server_pair, [client_pair])))
    inbox = Inbox()
    server.spawn(inbox, "inbox")
    client = Node("cli", ZmqTransport("cli", config=curve(client_pair, [], {"srv": server_pair})))
    intruder = Node("bad", ZmqTransport("bad", config=curve(intruder_pair, [], {"srv": server_pair})))
    probe, spy = client.spawn(Probe(), "probe"), intruder.spawn(Probe(), "spy")

    with structlog.testing.capture_logs() as logs:
        async with running(server, client, intruder):
            intruder.add_route("inbox", "srv", server.transport.endpoint)
            client.add_route("inbox", "srv", server.transport.endpoint)
            with pytest.raises(PeerUnreachableError, match="does not allow our CURVE public key"):
                await spy.send("inbox", Blob("stolen?", {"w": known_pattern()}))
            with pytest.raises(PeerUnreachableError, match="handshake refused"):
                await spy.send("inbox", Ping(666))  # a second try is refused afresh, not queued
            reply = await probe.ask("inbox", Ping(1))

    assert reply == Pong(2)
    assert inbox.received == [Ping(1)]
    refused = [e for e in logs if e["event"] == "peer_refused"]
    assert [e["key"] for e in refused] == [intruder_pair[0]] * 2


async def test_a_plaintext_node_is_refused_by_a_curve_node_and_nothing_it_sends_arrives(
    keys: dict[str, KeyPair],
) -> None:
    server_pair, client_pair = keys["server"], keys["client"]
    server = Node("srv", ZmqTransport("srv", config=curve(server_pair, [client_pair])))
    inbox = Inbox()
    server.spawn(inbox, "inbox")
    client = Node("cli", ZmqTransport("cli", config=curve(client_pair, [], {"srv": server_pair})))
    plain = Node("plain", ZmqTransport("plain"))
    probe, spy = client.spawn(Probe(), "probe"), plain.spawn(Probe(), "spy")

    async with running(server, client, plain):
        plain.add_route("inbox", "srv", server.transport.endpoint)
        client.add_route("inbox", "srv", server.transport.endpoint)
        with pytest.raises(PeerUnreachableError, match=r"handshake refused: .*we use plaintext"):
            await spy.send("inbox", Ping(666))
        reply = await probe.ask("inbox", Ping(1))

    assert reply == Pong(2)
    assert inbox.received == [Ping(1)]


async def test_a_curve_node_refuses_to_talk_to_a_plaintext_node() -> None:
    plain = Node("plain", ZmqTransport("plain"))
    inbox = Inbox()
    plain.spawn(inbox, "inbox")
    pair = new_curve_key_pair()
    sender = Node("cli", ZmqTransport("cli", config=curve(pair, [pair])))
    probe = sender.spawn(Probe(), "probe")

    async with running(plain, sender):
        sender.add_route("inbox", "plain", plain.transport.endpoint)
        with pytest.raises(PeerUnreachableError, match=r"handshake refused: .*we use CURVE"):
            await probe.send("inbox", Ping(1))

    assert inbox.received == []


async def test_a_server_that_does_not_prove_the_expected_key_is_refused_by_the_client(
    keys: dict[str, KeyPair],
) -> None:
    server_pair, client_pair, impostor_pair = keys["server"], keys["client"], keys["intruder"]
    impostor = Node("srv", ZmqTransport("srv", config=curve(impostor_pair, [client_pair])))
    inbox = Inbox()
    impostor.spawn(inbox, "inbox")
    client = Node("cli", ZmqTransport("cli", config=curve(client_pair, [], {"srv": server_pair})))
    probe = client.spawn(Probe(), "probe")

    async with running(impostor, client):
        client.add_route("inbox", "srv", impostor.transport.endpoint)
        with pytest.raises(PeerUnreachableError, match="closed the handshake; we use CURVE"):
            await probe.send("inbox", Blob("secret", {"w": known_pattern()}))

    assert inbox.received == []


# -- what is on the wire ------------------------------------------------------------


class Relay:
    """A TCP relay on loopback that forwards both ways and keeps every byte it forwarded."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.seen = bytearray()
        self._writers: list[asyncio.StreamWriter] = []
        self._pumps: list[asyncio.Task[None]] = []

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            self.seen += chunk
            writer.write(chunk)
            await writer.drain()
        writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        self._pumps += [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]

    @asynccontextmanager
    async def listening(self) -> AsyncIterator[str]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        try:
            yield f"tcp://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        finally:
            server.close()
            for writer in self._writers:
                writer.close()
            for pump in self._pumps:
                pump.cancel()
            await asyncio.gather(*self._pumps, return_exceptions=True)
            await server.wait_closed()


@pytest.mark.parametrize("with_curve", [False, True])
async def test_tensor_bytes_cross_the_wire_in_plaintext_only_without_curve(
    keys: dict[str, KeyPair], with_curve: bool
) -> None:
    server_pair, client_pair = keys["server"], keys["client"]
    config_a = curve(client_pair, [], {"b": server_pair}) if with_curve else ZmqConfig()
    config_b = curve(server_pair, [client_pair]) if with_curve else ZmqConfig()
    a, b = Node("a", ZmqTransport("a", config=config_a)), Node("b", ZmqTransport("b", config=config_b))
    probe = a.spawn(Probe(), "probe")
    b.spawn(Echo(), "echo")

    async with running(a, b):
        relay = Relay(int(b.transport.endpoint.rsplit(":", 1)[1]))
        async with relay.listening() as relay_endpoint:
            a.add_route("echo", "b", relay_endpoint)
            reply = await probe.ask("echo", Blob("sd", {"w": known_pattern()}))

    pattern = known_pattern().numpy().tobytes()
    assert torch.equal(reply.tree["w"], known_pattern())
    assert len(pattern) == 4096
    assert (pattern in relay.seen) is not with_curve
    assert len(relay.seen) > 2 * len(pattern)  # the tensor crossed twice (there and back)


# -- two OS processes ----------------------------------------------------------------


@contextmanager
def curve_node_process(keys_dir: Path, name: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    with endpoint_process("tests.actors.transport.curve_node", str(keys_dir), name) as started:
        yield started


async def test_two_os_processes_exchange_a_state_dict_over_curve_tcp(tmp_path: Path) -> None:
    store_pair, tester_pair, other_pair = new_curve_key_pair(), new_curve_key_pair(), new_curve_key_pair()
    write_key_pair(tmp_path, "store", *store_pair)
    write_key_pair(tmp_path, "tester", *tester_pair)
    tester = Node("tester", ZmqTransport("tester", config=curve(tester_pair, [], {"store-node": store_pair})))
    outsider = Node("other", ZmqTransport("other", config=curve(other_pair, [], {"store-node": store_pair})))
    probe, spy = tester.spawn(Probe(), "probe"), outsider.spawn(Probe(), "spy")

    with curve_node_process(tmp_path, "store") as (proc, endpoint):
        async with running(tester, outsider):
            outsider.add_route("store", "store-node", endpoint)
            with pytest.raises(PeerUnreachableError, match="does not allow our CURVE public key"):
                await spy.send("store", Blob("sd", state_dict()))
            tester.add_route("store", "store-node", endpoint)
            reply = await probe.ask("store", Blob("sd", state_dict()), timeout_s=20)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=20)

    assert endpoint.startswith("tcp://")
    assert reply.tag == "back:sd"
    assert_same(state_dict(), reply.tree)
    assert proc.returncode == 0, err


def placed_server(config: ZmqConfig | None) -> tuple[Node, Inbox]:
    """Node `srv` with an inbox, and the directory of a run: client-a on node-a, client-b on node-b."""
    server = Node("srv", ZmqTransport("srv", config=config))
    inbox = Inbox()
    server.spawn(inbox, "inbox")
    server.add_route("client-a", "node-a")
    server.add_route("client-b", "node-b")
    return server, inbox


def node_with_client(node_id: str, client: str, config: ZmqConfig | None) -> tuple[Node, Actor]:
    node = Node(node_id, ZmqTransport(node_id, config=config))
    return node, node.spawn(Probe(), client)


async def eventually(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():  # noqa: ASYNC110 - a counter in the transport, no event to wait on
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("secure", [False, True], ids=["plaintext", "curve"])
async def test_a_node_cannot_speak_for_an_actor_the_placement_puts_on_another_node(
    keys: dict[str, KeyPair], secure: bool
) -> None:
    pairs = {"srv": keys["server"], "node-a": keys["client"], "node-b": keys["intruder"]}
    per_node = {n: p for n, p in pairs.items() if n != "srv"}
    server, inbox = placed_server(curve(pairs["srv"], list(per_node.values()), per_node) if secure else None)
    node_b, client_b = node_with_client(
        "node-b", "client-b", curve(pairs["node-b"], [], pairs) if secure else None
    )
    forger = node_b.spawn(Probe(), "client-a")  # node-b hosts an actor that calls itself client-a

    async with running(server, node_b):
        node_b.add_route("inbox", "srv", server.transport.endpoint)
        await forger.send("inbox", Ping(666))
        reply = await client_b.ask("inbox", Ping(1))  # same connection, so after the forgery

    assert reply == Pong(2)
    assert inbox.received == [Ping(1)]
    assert server.dropped["sender not on its node"] == 1


async def test_with_a_key_pair_per_node_a_stolen_key_admits_its_own_node_only(
    keys: dict[str, KeyPair],
) -> None:
    pairs = {"srv": keys["server"], "node-a": keys["client"], "node-b": keys["intruder"]}
    per_node = {n: p for n, p in pairs.items() if n != "srv"}
    server, inbox = placed_server(curve(pairs["srv"], list(per_node.values()), per_node))
    # node-b's key pair, in a node that calls itself node-a and hosts "client-a"
    thief, forger = node_with_client("node-a", "client-a", curve(pairs["node-b"], [], pairs))

    with structlog.testing.capture_logs() as logs:
        async with running(server, thief):
            thief.add_route("inbox", "srv", server.transport.endpoint)
            await forger.send("inbox", Ping(666))
            await forger.send("inbox", Ping(667))
            await eventually(lambda: server.transport.key_mismatches == 2)

    assert inbox.received == []
    assert not server.dropped  # refused by the transport, before any actor name was read
    dropped = [e for e in logs if e.get("reason") == "key not of its node"]
    assert [(e["origin"], e["key"]) for e in dropped] == [("node-a", pairs["node-b"][0])] * 2


async def test_with_default_settings_one_nodes_key_cannot_speak_for_another_nodes_actor(
    tmp_path: Path,
) -> None:
    security = SecuritySpec(curve=True, keys_dir=tmp_path / "keys")  # no key, no node_keys: the defaults
    assert make_node_keys(security, ["srv", "node-a", "node-b"]) == ["srv", "node-a", "node-b"]
    server, inbox = placed_server(node_zmq_config(security, "srv"))
    node_b, client_b = node_with_client("node-b", "client-b", node_zmq_config(security, "node-b"))
    forger = node_b.spawn(Probe(), "client-a")  # node-b, with its own key, hosts a "client-a"
    # node-b's key pair in a node that calls itself node-a
    stolen = security.model_copy(update={"node_keys": {"node-a": "node-b"}})
    thief, posing = node_with_client("node-a", "client-a", node_zmq_config(stolen, "node-a"))

    async with running(server, node_b, thief):
        for node in (node_b, thief):
            node.add_route("inbox", "srv", server.transport.endpoint)
        await forger.send("inbox", Ping(666))
        await posing.send("inbox", Ping(667))
        reply = await client_b.ask("inbox", Ping(1))  # node-b's connection: after its forgery
        await eventually(lambda: server.transport.key_mismatches == 1)

    assert reply == Pong(2)
    assert inbox.received == [Ping(1)]
    assert server.dropped["sender not on its node"] == 1
