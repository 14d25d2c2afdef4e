"""State_dict transfer between two OS processes: a fedactors ask against raw pyzmq.

Ours: an actor asks an actor on a node in another process, sending the
ResNet-18 state_dict; the receiving actor's handler returns None, so its node
answers with an `Ack`. Raw: a DEALER sends the very frames our codec makes
(same bytes, same number of frames) with `send_multipart(copy=False)` to a
ROUTER that answers each message with a 3-byte ack. Both sides are
zmq.asyncio on uvloop. Batches of rounds alternate raw, ours, raw, ours, in a
few sessions of fresh processes. Throughput is the state_dict's bytes over
the median round time (send to ack), over tcp loopback and over ipc.
Target: ours ≥ 80% of raw.

    python benchmarks/transfer.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import zmq.asyncio
from tqdm import tqdm

sys.path.insert(
    0, str(Path(__file__).resolve().parents[1])
)  # `python benchmarks/transfer.py` finds the package

from actors import Actor, Node, handler
from actors.codec import encode, wire_size
from actors.messages import Envelope, Message, TensorTree, message
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
from benchmarks.resnet18 import StateDict, resnet18_state_dict

TARGET_RATIO = 0.8
ROUND_TIMEOUT_S = 60.0  # one round moves ~47 MB: well under a second on loopback
SCHEMES = ("tcp", "ipc")


@message("bench.transfer.state")
class State(Message):
    tree: TensorTree


class Sink(Actor):
    @handler
    async def on_state(self, msg: State, sender: str) -> None:
        """Take the state_dict; returning None answers the ask with `Ack`."""


class Probe(Actor):
    """Asks on the benchmark's behalf."""


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes and repeats of one run.

    Attributes:
        width: ResNet-18 stem channels (64 is the real network).
        sessions: fresh pairs of child processes (and connections) per scheme.
            Over tcp a connection settles into a fast or a slow regime for
            its whole life (rounds of ~12 or ~18 ms for raw, seen on this
            2-core machine), so one session can favour either side; the
            median is taken over the repeats of all sessions.
        batch: rounds per repeat. Round times alternate between two modes
            (the receiver's allocator alternately reuses and faults in its
            47 MB of buffers), so a repeat averages an even number of rounds.
        warmup: repeats dropped per session (the first makes the connection).
        repeats: kept repeats per session.
    """

    width: int
    sessions: int
    batch: int
    warmup: int
    repeats: int


FULL = Plan(width=64, sessions=3, batch=4, warmup=2, repeats=8)
QUICK = Plan(width=8, sessions=1, batch=2, warmup=1, repeats=3)


# -- child side ----------------------------------------------------------------------


async def serve_ours(bind: str) -> None:
    node = Node("sink-node", ZmqTransport("sink-node", bind))
    node.spawn(Sink(), "sink")
    await serve_node(node)


async def ack_each(sock: zmq.asyncio.Socket) -> None:
    while True:
        routing_id = (await sock.recv_multipart(copy=False))[0]  # the payload frames are freed here
        await sock.send_multipart([routing_id, b"ack"])


# -- parent side ---------------------------------------------------------------------


def bind_address(scheme: str, tmp: str, name: str) -> str:
    return "tcp://127.0.0.1:*" if scheme == "tcp" else f"ipc://{tmp}/{name}.sock"


async def raw_rounds(sock: zmq.asyncio.Socket, frames: list[object], rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        async with asyncio.timeout(ROUND_TIMEOUT_S):
            await sock.send_multipart(frames, copy=False)
            await sock.recv()
    return (time.perf_counter() - start) / rounds


async def ours_rounds(probe: Actor, sd: StateDict, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        await probe.ask("sink", State(sd), timeout_s=ROUND_TIMEOUT_S)
    return (time.perf_counter() - start) / rounds


async def measure(
    sd: StateDict, endpoints: dict[str, str], parent_bind: str, plan: Plan, bar: tqdm
) -> tuple[list[float], list[float]]:
    """Seconds per round, raw and ours, batch by batch alternating; warm-up batches dropped."""
    frames = encode(Envelope("probe", "sink", State(sd)))  # the same frames, for the raw baseline
    node = Node("bench", ZmqTransport("bench", parent_bind))
    probe = node.spawn(Probe(), "probe")
    node.add_route("sink", "sink-node", endpoints["ours"])
    raw: list[float] = []
    ours: list[float] = []
    async with running(node), raw_dealer(endpoints["raw"]) as dealer:
        for _ in range(plan.warmup + plan.repeats):
            raw.append(await raw_rounds(dealer, frames, plan.batch))
            ours.append(await ours_rounds(probe, sd, plan.batch))
            bar.update()
    return raw[plan.warmup :], ours[plan.warmup :]


def run_session(scheme: str, sd: StateDict, plan: Plan, bar: tqdm) -> tuple[list[float], list[float]]:
    """One pair of fresh child processes: seconds per round, raw and ours."""
    with tempfile.TemporaryDirectory(prefix="fedactors-bench-") as tmp, ExitStack() as children:
        endpoints = {
            side: children.enter_context(child_process("transfer", side, bind_address(scheme, tmp, side)))
            for side in ("raw", "ours")
        }
        return run_process(measure(sd, endpoints, bind_address(scheme, tmp, "parent"), plan, bar))


def run_scheme(scheme: str, sd: StateDict, plan: Plan, bar: tqdm) -> Row:
    raw_s: list[float] = []
    ours_s: list[float] = []
    for _ in range(plan.sessions):
        raw_session, ours_session = run_session(scheme, sd, plan, bar)
        raw_s += raw_session
        ours_s += ours_session
    raw, ours = Stat.of(raw_s), Stat.of(ours_s)
    nbytes = wire_size(encode(Envelope("probe", "sink", State(sd))))
    frames = len(sd) + 1
    return Row(
        case=f"state_dict over {scheme} ({frames} frames, {nbytes / 1e6:,.1f} MB)",
        baseline_name="raw pyzmq DEALER→ROUTER, copy=False",
        baseline=raw.inverted(nbytes / 1e6),
        ours=ours.inverted(nbytes / 1e6),
        unit="MB/s",
        target=f"ours/baseline ≥ {TARGET_RATIO}",
        met=raw.median / ours.median >= TARGET_RATIO,
        note=f"round raw {raw.median * 1e3:,.1f} / ours {ours.median * 1e3:,.1f} ms",
    )


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0], child_roles=("raw", "ours")).parse_args()
    if args.child == "ours":
        run_process(serve_ours(args.bind))
        return
    if args.child == "raw":
        run_process(serve_router(args.bind, ack_each))
        return
    plan = QUICK if args.quick else FULL
    if args.repeats:
        plan = Plan(plan.width, plan.sessions, plan.batch, plan.warmup, args.repeats)
    sd = resnet18_state_dict(width=plan.width)
    with progress(len(SCHEMES) * plan.sessions * (plan.warmup + plan.repeats), "transfer") as bar:
        rows = [run_scheme(scheme, sd, plan, bar) for scheme in SCHEMES]
    settings = {
        "mode": "quick" if args.quick else "full",
        "repeats": f"median of {plan.sessions} sessions × {plan.repeats}, each a mean of {plan.batch} rounds",
        "warmup": plan.warmup,
    }
    report("transfer", settings, rows, args.json)


if __name__ == "__main__":
    run_main(main)
