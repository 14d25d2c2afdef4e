"""A live node process takes 100,000+ malformed multipart messages on its socket and goes on.

The node (`python -m tests.actors.test_fuzz BIND`) hosts an echo actor and a
FedAsync server. A raw DEALER sends it batches of generated messages:
Hypothesis draws a *recipe* (what to break, a seed, how hard) and a seeded
`random.Random` makes a batch of frame lists from it, so that 100,000 messages
take seconds, not the minutes one Hypothesis example per message would.

The test decodes every message it sends with our own codec first, so it knows
exactly how many the node must drop as undecodable, how many reach an actor
that does not exist, and how many Joins and Updates from strangers the server
must refuse. After the flood a valid ask is answered, two real clients train
with the server until its run completes, and the process exits 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import struct
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import pytest
import torch
import zmq
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from actors import Actor, Node, NodeConfig, handler
from actors.client.trainer_client import TrainerClient
from actors.codec import decode, encode
from actors.errors import DecodeError
from actors.logs import configure_logging
from actors.messages import REPLY, Envelope, Heartbeat, Message
from actors.node import run_process
from actors.protocol import Done, Events, Join, Leave, Task, Update
from actors.server.base import ServerDeps
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.stop import StopConfig
from actors.statedict import StateDict
from actors.testing import FixedTrainer, running
from actors.transport.zeromq import ZmqTransport
from tests.actors.messages_for_tests import Blob, Ping, Pong

ROOT = Path(__file__).resolve().parents[2]
NODE = "fuzz-node"
CLIENTS = ("client-0", "client-1")
MAX_VERSIONS = 5
BATCH = 600  # messages per Hypothesis example
EXAMPLES = 200  # 120,000 messages in all
WAIT_S = 120.0  # every wait ends on an event; this only stops a hang


# -- the node process --------------------------------------------------------------------


def weights(value: float) -> StateDict:
    return {"w": torch.full((4,), value)}


class Echo(Actor):
    """Answers pings and blobs, and counts them."""

    def __init__(self) -> None:
        self.handled = 0

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        self.handled += 1
        return Pong(msg.n + 1)

    @handler
    async def on_blob(self, msg: Blob, sender: str) -> Blob:
        self.handled += 1
        return Blob("back", msg.tree)


async def serve(bind: str) -> dict[str, Any]:
    """Run the fuzzed node until SIGTERM; return what it counted."""
    transport = ZmqTransport(NODE, bind)
    node = Node(NODE, transport, config=NodeConfig(compute="thread"))
    deps = ServerDeps(
        evaluator=None,
        stop=StopConfig(max_versions=MAX_VERSIONS),
        recorder="watcher",
        expected_clients=frozenset(CLIENTS),
    )
    echo = node.spawn(Echo(), "echo")
    server = node.spawn(FedAsyncServer(FedAsyncConfig(alpha=0.5), weights(0.0), deps), "server")
    run = asyncio.create_task(node.run(handle_signals=True))
    await node.wait_started()
    print(transport.endpoint, flush=True)
    await run
    return {
        "undecodable": transport.dropped,
        "node_dropped": dict(node.dropped),
        "rejected": dict(server.validator.rejected),
        "echoed": echo.handled,
        "version": server.version,
        "done": server.done,
    }


# -- generated messages --------------------------------------------------------------------

_TENSOR_HEAD = struct.Struct("<IBB")


def tensor_ref(index: int, dtype: int, shape: list[int], ext: int = 1) -> msgpack.ExtType:
    return msgpack.ExtType(
        ext, _TENSOR_HEAD.pack(index, dtype, len(shape)) + struct.pack(f"<{len(shape)}q", *shape)
    )


def header(kind: str, sender: str, receiver: str, fields: Any, corr_id: int = 0, flags: int = 0) -> bytes:
    return msgpack.packb([1, kind, sender, receiver, corr_id, flags, fields])


def sender_name(rng: random.Random) -> str:
    """Anyone but the real clients and the watcher (whose routes the node must learn from them)."""
    return rng.choice(["", "fz", "fz-" + "x" * 1000, "fz-ü∂", f"fz-{rng.getrandbits(32):x}"])


def valid(rng: random.Random) -> list[bytes]:
    """A well-formed message: to the echo, the server, or nobody; a tell, an ask or a reply."""
    tensor = torch.randn(rng.randint(0, 6))
    body: Message = rng.choice(
        [
            Ping(rng.randint(-5, 5)),
            Blob("t", {"a": tensor, "b": [tensor.numpy(), 3]}),
            Join(rng.randint(-1, 10**6)),
            Update(rng.randint(0, 9), rng.randint(-1, 3), {"w": tensor}, rng.random() < 0.5, 1, 0.1, 0.1),
            Task(1, 0, {"w": tensor}),
            Events([{"event": "x"}]),
            Leave("fuzz"),
            Done("fuzz", 1),
        ]
    )
    receiver = rng.choice(["echo", "server", "server", "nobody", ""])
    corr_id = rng.choice([0, 0, rng.randint(1, 2**40)])
    flags = REPLY if rng.random() < 0.1 else 0
    return [bytes(memoryview(f)) for f in encode(Envelope(sender_name(rng), receiver, body, corr_id, flags))]


def random_frames(rng: random.Random, intensity: int) -> list[bytes]:
    return [rng.randbytes(rng.randint(0, 16 * intensity)) for _ in range(rng.randint(1, 4))]


def truncated(rng: random.Random, intensity: int) -> list[bytes]:
    frames = valid(rng)
    frames[0] = frames[0][: rng.randrange(len(frames[0]))]
    return frames


def flipped(rng: random.Random, intensity: int) -> list[bytes]:
    frames = valid(rng)
    head = bytearray(frames[0])
    for _ in range(intensity):
        head[rng.randrange(len(head))] = rng.randrange(256)
    frames[0] = bytes(head)
    return frames


def spliced(rng: random.Random, intensity: int) -> list[bytes]:
    """Bytes inserted into and cut out of the header."""
    head = bytearray(valid(rng)[0])
    for _ in range(intensity):
        at = rng.randrange(len(head) + 1)
        if rng.random() < 0.5:
            head[at:at] = rng.randbytes(rng.randint(1, 8))
        else:
            del head[at : at + rng.randint(1, 8)]
    return [bytes(head)]


def reframed(rng: random.Random, intensity: int) -> list[bytes]:
    """Frames dropped, added, duplicated, shortened or grown: counts and sizes the header does not list."""
    frames = valid(rng)
    last = frames[-1]
    action = rng.choice(["drop", "add", "dup", "cut", "grow"])
    if action == "drop":
        return frames[:-1] or [b""]
    if action == "add":
        return [*frames, rng.randbytes(rng.randint(0, 16 * intensity))]
    if action == "dup":
        return [*frames, last]
    if action == "cut":
        return [*frames[:-1], last[: max(0, len(last) - rng.randint(1, 8))]]
    return [*frames[:-1], last + rng.randbytes(rng.randint(1, 8))]


def bad_headers(rng: random.Random, intensity: int) -> list[bytes]:
    """Msgpack that is not an envelope: wrong version, wrong types, wrong length, not a list."""
    good = [1, "test.ping", "fz", "echo", 0, 0, {"n": 1}]
    slot = rng.randrange(len(good))
    junk = rng.choice([None, True, -1, 2**63, 1.5, "s", b"b", [], {}, {1: 2}, [1, [2, [3]]]])
    broken = [*good[:slot], junk, *good[slot + 1 :]]
    choice = rng.choice([broken, good[:slot], [*good, junk], junk, {"kind": "x"}])
    return [msgpack.packb(choice)]


UPDATE_FIELDS = {
    "task_id": 1,
    "base_version": 0,
    "weights": {},
    "is_delta": False,
    "num_samples": 1,
    "loss": 0.0,
    "compute_s": 0.0,
}


def bad_fields(rng: random.Random, intensity: int) -> list[bytes]:
    """A registered or unknown kind with fields missing, unknown, or of the wrong type."""
    kind, fields = rng.choice(
        [
            ("fl.update", {**UPDATE_FIELDS, "task_id": "1"}),
            ("fl.update", {**UPDATE_FIELDS, "is_delta": 1}),
            ("fl.update", {**UPDATE_FIELDS, "weights": None, "loss": "low"}),
            ("fl.update", {"task_id": 1}),
            ("fl.join", {"num_samples": 1.5}),
            ("fl.join", {"num_samples": 1, "colour": "red"}),
            ("test.ping", {"n": True}),
            ("test.ping", {}),
            (rng.choice(["", "fl.nope", "x" * 300, "test.ping\x00"]), {"n": 1}),
        ]
    )
    return [header(kind, sender_name(rng), rng.choice(["echo", "server"]), fields)]


def bad_tensors(rng: random.Random, intensity: int) -> list[bytes]:
    """Tensor references with bad dtypes, impossible or huge shapes, wrong frames or ext codes."""
    data = rng.randbytes(rng.choice([0, 4, 12, 16]))
    ref = rng.choice(
        [
            tensor_ref(1, rng.randint(12, 255), [len(data) // 4]),  # no such dtype
            tensor_ref(1, 0, [2**62, 2**62]),  # huge declared shape
            tensor_ref(1, 0, [2**63 - 1, 0]),
            tensor_ref(1, 0, [-1]),  # negative dim
            tensor_ref(1, 0, [1] * 65),  # more dims than the wire allows
            tensor_ref(rng.choice([0, 2, 2**32 - 1]), 0, [len(data) // 4]),  # no such frame
            tensor_ref(1, 0, [len(data) // 4 + 1]),  # size and shape disagree
            tensor_ref(1, 0, [len(data) // 4], ext=rng.choice([0, 3, 127])),  # unknown ext type
            msgpack.ExtType(1, rng.randbytes(rng.randint(0, 9))),  # short reference
        ]
    )
    tree = rng.choice([ref, [ref, ref], {"w": ref}])
    return [header("test.blob", sender_name(rng), "echo", {"tag": "t", "tree": tree}), data]


def long_strings(rng: random.Random, intensity: int) -> list[bytes]:
    """A name, kind or reason of up to 100,000 characters (the codec bounds each; see DecodeLimits)."""
    long = "L" * rng.choice([200, 257, 5_000 * intensity, 70_000, 100_000])
    kind, sender, receiver, fields = Leave.kind, "fz", "server", {"reason": "fuzz"}
    match rng.randrange(4):
        case 0:
            sender = "fz-" + long
        case 1:
            receiver = long
        case 2:
            kind = long
        case _:
            fields = {"reason": long}
    return [header(kind, sender, receiver, fields)]


Mutation = Callable[[random.Random, int], list[bytes]]
MUTATIONS: dict[str, Mutation] = {
    "valid": lambda rng, _: valid(rng),
    "random": random_frames,
    "truncated": truncated,
    "flipped": flipped,
    "spliced": spliced,
    "reframed": reframed,
    "header": bad_headers,
    "fields": bad_fields,
    "tensors": bad_tensors,
    "long": long_strings,
}


@dataclass(frozen=True)
class Recipe:
    """What one Hypothesis example breaks: a mix of mutations, a seed, and how hard."""

    mutations: tuple[str, ...]
    seed: int
    intensity: int

    def messages(self) -> Iterator[list[bytes]]:
        rng = random.Random(self.seed)
        for _ in range(BATCH):
            yield MUTATIONS[rng.choice(self.mutations)](rng, self.intensity)


RECIPES = st.builds(
    Recipe,
    mutations=st.lists(st.sampled_from(sorted(MUTATIONS)), min_size=1, max_size=4, unique=True).map(tuple),
    seed=st.integers(0, 2**64 - 1),
    intensity=st.integers(1, 8),
)


# -- the fuzzer ------------------------------------------------------------------------------


@dataclass
class Expected:
    """What the node must count for the messages sent, found by decoding each one here first."""

    undecodable: int = 0
    no_such_actor: int = 0
    no_handler: int = 0
    unknown_sender: int = 0
    echoed: int = 0
    kinds: Counter[str] = field(default_factory=Counter)

    def add(self, frames: list[bytes]) -> None:
        try:
            envelope = decode(frames)
        except DecodeError as exc:
            self.undecodable += 1
            self.kinds[type(exc).__name__] += 1
            return
        self.kinds["decoded"] += 1
        if envelope.is_reply:
            return  # a reply nobody waits for: resolved to nothing, not a drop
        if isinstance(envelope.body, Heartbeat):
            return  # a sign of life: noted by the node, handled by no actor, not a drop
        if envelope.receiver not in ("echo", "server"):
            self.no_such_actor += 1
        elif envelope.receiver == "echo" and isinstance(envelope.body, Ping | Blob):
            self.echoed += 1
        elif envelope.receiver == "server" and isinstance(envelope.body, Join | Update):
            self.unknown_sender += 1
        elif envelope.receiver == "server" and isinstance(envelope.body, Leave):
            return  # handled: a stranger leaving changes nothing
        else:
            self.no_handler += 1


class Fuzzer:
    """A raw DEALER that sends without blocking and reads whatever the node answers."""

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.ROUTING_ID, b"fuzzer")
        self.sock.connect(endpoint)
        self.sent = 0
        self.waits = 0
        self.replies: dict[int, Envelope] = {}
        self.expected = Expected()

    def send(self, frames: list[bytes]) -> None:
        self.expected.add(frames)
        while True:
            try:
                self.sock.send_multipart(frames, flags=zmq.NOBLOCK)
                self.sent += 1
                return
            except zmq.Again:
                self.waits += 1  # the node pushes back: read its answers while we wait for room
                self._read(timeout_ms=100)

    def barrier(self, node_alive: Callable[[], bool]) -> None:
        """Ask the echo and the server once more and wait for both answers.

        One connection is one ordered lane to each actor, so once both answer,
        every message sent before has been received, decoded and handled.
        """
        asks = {2**50: "echo", 2**50 + 1: "server"}
        for corr_id, receiver in asks.items():
            self.sock.send_multipart(encode(Envelope("fz-barrier", receiver, Ping(1), corr_id)))
        while not asks.keys() <= self.replies.keys():
            assert node_alive(), "the node process died"
            self._read(timeout_ms=1000)

    def _read(self, timeout_ms: int) -> None:
        if not self.sock.poll(timeout_ms, zmq.POLLIN):
            return
        while self.sock.poll(0, zmq.POLLIN):
            reply = decode(self.sock.recv_multipart())
            self.replies[reply.corr_id] = reply

    def close(self) -> None:
        self.sock.close(linger=0)
        self.ctx.term()


# -- the clients that train after the flood --------------------------------------------------


class Watcher(Actor):
    def __init__(self) -> None:
        self.done = asyncio.Event()

    @handler
    async def on_done(self, msg: Done, sender: str) -> None:
        self.done.set()


async def ask_then_train(endpoint: str) -> tuple[Message, bool]:
    """A valid ask to the echo, then a FedAsync run with two honest clients until it is done."""
    node = Node("tester", ZmqTransport("tester"))
    node.add_route("echo", NODE, endpoint)
    node.add_route("server", NODE, endpoint)
    watcher = node.spawn(Watcher(), "watcher")
    async with running(node):
        answer = await watcher.ask("echo", Ping(41), timeout_s=WAIT_S)  # also shows the node our route
        for i, name in enumerate(CLIENTS):
            node.spawn(TrainerClient(FixedTrainer(weights(float(i + 1))), "server"), name)
        async with asyncio.timeout(WAIT_S):
            await watcher.done.wait()
    return answer, watcher.done.is_set()


# -- the test --------------------------------------------------------------------------------


@contextmanager
def node_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """The node under fuzz; its log goes to a file (a pipe nobody reads would block it)."""
    with (tmp_path / "node.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.actors.test_fuzz", "tcp://127.0.0.1:*"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert proc.stdout is not None
            endpoint = proc.stdout.readline().strip()
            assert endpoint, (tmp_path / "node.log").read_text()
            yield proc, endpoint
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def fuzz(fuzzer: Fuzzer) -> None:
    """Send one batch per Hypothesis example (no shrinking: the node is checked as a whole)."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(recipe=RECIPES)
    def send_batch(recipe: Recipe) -> None:
        for frames in recipe.messages():
            fuzzer.send(frames)

    send_batch()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_node_survives_100k_malformed_messages_answers_after_and_completes_a_run(tmp_path: Path) -> None:
    with node_process(tmp_path) as (proc, endpoint):
        fuzzer = Fuzzer(endpoint)
        try:
            fuzz(fuzzer)
            fuzzer.barrier(node_alive=lambda: proc.poll() is None)
        finally:
            fuzzer.close()
        answer, done = asyncio.run(ask_then_train(endpoint))
        alive = proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)

    report = json.loads(out.strip().splitlines()[-1])
    expected = fuzzer.expected
    assert fuzzer.sent >= 100_000
    assert alive
    assert proc.returncode == 0
    assert answer == Pong(42)
    assert done
    assert report["done"]
    assert report["version"] == MAX_VERSIONS
    assert report["undecodable"] == expected.undecodable
    assert report["node_dropped"].get("no such actor here", 0) == expected.no_such_actor
    assert report["node_dropped"].get("no handler", 0) == expected.no_handler + 1  # the barrier's ping
    assert report["rejected"] == {"unknown_sender": expected.unknown_sender}
    assert report["echoed"] == expected.echoed + 2  # the barrier's and the tester's pings
    # Every way of breaking a message was tried, and some of each kind got through the codec.
    assert set(expected.kinds) >= {
        "decoded",
        "TruncatedEnvelopeError",
        "MalformedEnvelopeError",
        "UnknownKindError",
        "InvalidFieldError",
        "FrameCountError",
        "UnknownDtypeError",
        "TensorSizeError",
    }
    assert min(expected.no_such_actor, expected.no_handler, expected.unknown_sender, expected.echoed) > 0
    assert expected.undecodable + expected.kinds["decoded"] == fuzzer.sent


if __name__ == "__main__":
    configure_logging("warning")  # to stderr: stdout carries the endpoint and the report
    print(json.dumps(run_process(serve(sys.argv[1]))), flush=True)
