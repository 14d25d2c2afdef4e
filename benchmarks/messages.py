"""Small messages between two OS processes: actor round trip and one-way rate against raw pyzmq.

(a) Round trip: an actor asks an actor in another process with a 100-byte
message (its whole wire form: the msgpack header frame) and gets the same
message back; raw: a zmq.asyncio DEALER on uvloop sends 100 bytes to a ROUTER
that echoes them. Target: ours within 2× of raw.

(b) One-way rate: an actor sends 100-byte messages to an actor in another
process as fast as `send` returns; the receiver counts them and, asked at the
end, reports the count and the time from the first to the last. Raw: a
DEALER sends 100-byte frames to a ROUTER that counts the same way. Target:
ours ≥ 50% of raw.

Both over tcp loopback; repeats alternate raw and ours.

    python benchmarks/messages.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

import asyncio
import struct
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import zmq.asyncio
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script: find `benchmarks`

from actors import Actor, Node, handler
from actors.codec import encode, wire_size
from actors.messages import Envelope, Message, message
from actors.node import run_process
from actors.transport.zeromq import ZmqTransport
from benchmarks.harness import (
    Row,
    Stat,
    arg_parser,
    child_process,
    progress,
    raw_dealer,
    report,
    run_main,
    running,
    serve_node,
    serve_router,
)

MESSAGE_BYTES = 100
TARGET_ROUND_TRIP_RATIO = 2.0
TARGET_RATE_RATIO = 0.5
WAIT_TIMEOUT_S = 60.0  # a whole burst is well under a second; this only stops a hang
BIND = "tcp://127.0.0.1:*"
_REPORT = b"report"  # the raw counter's end-of-burst request
_COUNT = struct.Struct("<qd")  # the raw counter's reply: count, seconds from first to last


@message("bench.messages.ping")
class Ping(Message):
    payload: bytes


@message("bench.messages.tick")
class Tick(Message):
    payload: bytes


@message("bench.messages.report_count")
class ReportCount(Message):
    """Ask the counter how many ticks it saw since the last report."""


@message("bench.messages.count")
class Count(Message):
    count: int
    elapsed_s: float


class Echo(Actor):
    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Ping:
        return msg


class Counter(Actor):
    """Counts ticks; the time from the first to the last is wall time, as a benchmark needs."""

    def __init__(self) -> None:
        self.tally = _Tally()

    @handler
    async def on_tick(self, msg: Tick, sender: str) -> None:
        self.tally.add()

    @handler
    async def on_report(self, msg: ReportCount, sender: str) -> Count:
        count, elapsed_s = self.tally.take()
        return Count(count, elapsed_s)


class Probe(Actor):
    """Asks and sends on the benchmark's behalf."""


class _Tally:
    def __init__(self) -> None:
        self.count = 0
        self.first = self.last = 0.0

    def add(self) -> None:
        self.last = time.perf_counter()
        if self.count == 0:
            self.first = self.last
        self.count += 1

    def take(self) -> tuple[int, float]:
        taken = (self.count, self.last - self.first)
        self.count = 0
        return taken


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and repeats of one run.

    Attributes:
        round_trips: round trips per repeat (the repeat's figure is their mean).
        burst: messages per one-way repeat.
        warmup: repeats dropped before measuring (the first makes the connection).
        repeats: kept repeats.
    """

    round_trips: int
    burst: int
    warmup: int
    repeats: int


FULL = Plan(round_trips=300, burst=20_000, warmup=2, repeats=10)
QUICK = Plan(round_trips=20, burst=200, warmup=1, repeats=2)


# -- child side ----------------------------------------------------------------------


async def serve_ours(bind: str) -> None:
    node = Node("peer-node", ZmqTransport("peer-node", bind))
    node.spawn(Echo(), "echo")
    node.spawn(Counter(), "counter")
    await serve_node(node)


async def echo_each(sock: zmq.asyncio.Socket) -> None:
    while True:
        await sock.send_multipart(await sock.recv_multipart())


async def count_each(sock: zmq.asyncio.Socket) -> None:
    tally = _Tally()
    while True:
        routing_id, payload = await sock.recv_multipart()
        if payload == _REPORT:
            await sock.send_multipart([routing_id, _COUNT.pack(*tally.take())])
        else:
            tally.add()


# -- parent side ---------------------------------------------------------------------


def payload_for(kind: type[Ping] | type[Tick], receiver: str, corr_id: int) -> bytes:
    """A payload that makes the whole encoded message `MESSAGE_BYTES` long.

    An ask's corr_id grows by a byte or two as asks are counted: ±2 bytes.
    """
    payload = b""
    for _ in range(3):  # msgpack's length prefix may grow once as the payload does
        size = wire_size(encode(Envelope("probe", receiver, kind(payload), corr_id=corr_id)))
        payload = b"x" * (len(payload) + MESSAGE_BYTES - size)
    return payload


async def raw_round_trips(sock: zmq.asyncio.Socket, payload: bytes, n: int) -> float:
    start = time.perf_counter()
    async with asyncio.timeout(WAIT_TIMEOUT_S):
        for _ in range(n):
            await sock.send(payload)
            await sock.recv()
    return (time.perf_counter() - start) / n


async def ours_round_trips(probe: Actor, ping: Ping, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        await probe.ask("echo", ping, timeout_s=WAIT_TIMEOUT_S)
    return (time.perf_counter() - start) / n


async def raw_burst(sock: zmq.asyncio.Socket, payload: bytes, n: int) -> float:
    async with asyncio.timeout(WAIT_TIMEOUT_S):
        for _ in range(n):
            await sock.send(payload)
        await sock.send(_REPORT)
        count, elapsed_s = _COUNT.unpack(await sock.recv())
    return _rate(count, elapsed_s, n, "raw")


async def ours_burst(probe: Actor, tick: Tick, n: int) -> float:
    async with asyncio.timeout(WAIT_TIMEOUT_S):
        for _ in range(n):
            await probe.send("counter", tick)
    reply = await probe.ask("counter", ReportCount(), timeout_s=WAIT_TIMEOUT_S)
    assert isinstance(reply, Count)
    return _rate(reply.count, reply.elapsed_s, n, "ours")


def _rate(count: int, elapsed_s: float, sent: int, side: str) -> float:
    if count != sent:
        raise RuntimeError(f"{side}: the receiver counted {count} of {sent} messages sent")
    return (count - 1) / elapsed_s  # messages after the first, over the time since it


@dataclass(frozen=True, slots=True)
class Figures:
    raw_round_trip_s: Stat
    ours_round_trip_s: Stat
    raw_rate: Stat
    ours_rate: Stat


async def measure(endpoints: dict[str, str], plan: Plan, bar: tqdm) -> Figures:
    node = Node("bench", ZmqTransport("bench", BIND))
    probe = node.spawn(Probe(), "probe")
    for actor in ("echo", "counter"):
        node.add_route(actor, "peer-node", endpoints["ours"])
    ping, tick = Ping(payload_for(Ping, "echo", 1000)), Tick(payload_for(Tick, "counter", 0))
    raw_rt, ours_rt, raw_rate, ours_rate = [], [], [], []
    async with (
        running(node),
        raw_dealer(endpoints["raw-echo"]) as echo,
        raw_dealer(endpoints["raw-count"]) as counter,
    ):
        for _ in range(plan.warmup + plan.repeats):
            raw_rt.append(await raw_round_trips(echo, ping.payload, plan.round_trips))
            ours_rt.append(await ours_round_trips(probe, ping, plan.round_trips))
            bar.update()
        for _ in range(plan.warmup + plan.repeats):
            raw_rate.append(await raw_burst(counter, tick.payload, plan.burst))
            ours_rate.append(await ours_burst(probe, tick, plan.burst))
            bar.update()
    kept = slice(plan.warmup, None)
    return Figures(*(Stat.of(samples[kept]) for samples in (raw_rt, ours_rt, raw_rate, ours_rate)))


def rows(figures: Figures, plan: Plan) -> list[Row]:
    raw_rt, ours_rt = figures.raw_round_trip_s.scaled(1e6), figures.ours_round_trip_s.scaled(1e6)
    raw_rate, ours_rate = figures.raw_rate, figures.ours_rate
    return [
        Row(
            case=f"round trip, {MESSAGE_BYTES} B each way (tcp)",
            baseline_name="raw zmq.asyncio DEALER↔ROUTER echo",
            baseline=raw_rt,
            ours=ours_rt,
            unit="µs",
            target=f"ours/baseline ≤ {TARGET_ROUND_TRIP_RATIO}",
            met=ours_rt.median / raw_rt.median <= TARGET_ROUND_TRIP_RATIO,
            note=f"mean of {plan.round_trips} per repeat",
        ),
        Row(
            case=f"one-way rate, {MESSAGE_BYTES} B messages (tcp)",
            baseline_name="raw zmq.asyncio DEALER→ROUTER",
            baseline=raw_rate,
            ours=ours_rate,
            unit="msg/s",
            target=f"ours/baseline ≥ {TARGET_RATE_RATIO}",
            met=ours_rate.median / raw_rate.median >= TARGET_RATE_RATIO,
            note=f"bursts of {plan.burst:,}, counted by the receiver",
        ),
    ]


def main() -> None:
    roles = ("ours", "raw-echo", "raw-count")
    args = arg_parser(__doc__.splitlines()[0], child_roles=roles).parse_args()
    if args.child == "ours":
        run_process(serve_ours(args.bind))
        return
    if args.child in ("raw-echo", "raw-count"):
        run_process(serve_router(args.bind, echo_each if args.child == "raw-echo" else count_each))
        return
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = Plan(plan.round_trips, plan.burst, plan.warmup, args.repeats)
    with ExitStack() as children, progress(2 * (plan.warmup + plan.repeats), "messages") as bar:
        endpoints = {role: children.enter_context(child_process("messages", role, BIND)) for role in roles}
        figures = run_process(measure(endpoints, plan, bar))
    settings = {
        "mode": "quick" if args.quick else "full",
        "repeats": f"median of {plan.repeats}",
        "warmup": plan.warmup,
    }
    report("messages", settings, rows(figures, plan), args.json)


if __name__ == "__main__":
    run_main(main)
