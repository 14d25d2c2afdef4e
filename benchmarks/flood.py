"""Server memory under a flood: one rogue client sends updates as fast as the server takes them.

A FedAsync server (its own process, real ZeroMQ over tcp loopback) trains with
honest clients (a second process, a trainer that returns fixed weights) while a
rogue client (a third process, a raw DEALER) joins and then sends one valid
looking update over and over, as fast as the server's socket accepts it. Each
is rejected (`unknown_task`); what can pile up in the meantime is bounded by
the server's ZeroMQ receive high-water mark and its mailbox, so its peak RSS
must stay near the run without the flood, however long the flood lasts. The
honest clients' updates must still be applied.

Baseline: the same run without the rogue. Ours: with it. Figures: the server
process's peak RSS (VmHWM) and its growth since it bound its socket.

    python benchmarks/flood.py [--quick] [--json PATH] [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import select
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import zmq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script: find `benchmarks`

from actors import Actor, Node, NodeConfig, handler
from actors.client.local_sgd import Evaluation, TrainResult
from actors.client.trainer_client import TrainerClient
from actors.codec import encode
from actors.messages import Envelope
from actors.metrics import Record
from actors.node import run_process
from actors.protocol import Done, Join, Update
from actors.server.base import ServerDeps
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.stop import StopConfig
from actors.statedict import StateDict
from actors.transport.zeromq import ZmqConfig, ZmqTransport
from actors.transport.zmq_config import RECV_HWM
from benchmarks.harness import (
    ROOT,
    Row,
    Stat,
    arg_parser,
    progress,
    report,
    run_main,
    stop_when_parent_exits,
)

SERVER_NODE = "server-node"
ROGUE = "rogue"
LINE_TIMEOUT_S = 120.0  # a child imports torch, and under a flood the run itself takes seconds
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class FloodPlan:
    """One run's sizes.

    Attributes:
        numel: float32 parameters of the model (each update carries all of them).
        honest_clients: clients that train honestly, in one process.
        max_versions: the server stops at this version.
        flood_before: rogue updates sent before the honest clients start, so
            that the server's queues are already full when they do.
        recv_hwm: the server's ZeroMQ receive high-water mark (messages per peer).
        mailbox_capacity: the server node's mailbox bound (messages per actor).
    """

    numel: int = 16_384
    honest_clients: int = 3
    max_versions: int = 60
    flood_before: int = 30_000
    recv_hwm: int = RECV_HWM
    mailbox_capacity: int = 1000

    @property
    def update_mb(self) -> float:
        return self.numel * 4 / 1e6

    def queued_mb(self) -> float:
        """What the server may hold for one peer: a full receive queue and a full mailbox."""
        return (self.recv_hwm + self.mailbox_capacity) * self.update_mb


@dataclass(frozen=True, slots=True)
class FloodResult:
    """What the server process reported, and what the rogue sent.

    Attributes:
        server: the server process's report (see `serve_server`).
        rogue_sent: updates the rogue got into its socket (0 without a flood).
        rogue_waits: times the rogue found the server's queue full and had to wait.
    """

    server: dict[str, Any]
    rogue_sent: int = 0
    rogue_waits: int = 0

    @property
    def peak_mb(self) -> float:
        return float(self.server["peak_rss_mb"])

    @property
    def growth_mb(self) -> float:
        return float(self.server["peak_rss_mb"] - self.server["start_rss_mb"])


# -- the server process ----------------------------------------------------------------


def rss_mb(field: str) -> float:
    """`VmRSS` or `VmHWM` (peak) of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 1e6
    raise KeyError(field)


class CountingSink:
    """Counts the events the flood is judged by, and keeps nothing else (memory stays flat)."""

    def __init__(self) -> None:
        self.applied: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        self.first_applied_t: float | None = None
        self.last_applied_t = 0.0

    def emit(self, record: Record) -> None:
        if record["event"] == "update_applied":
            self.applied[record["client"]] += 1
            self.first_applied_t = self.first_applied_t or record["t"]
            self.last_applied_t = record["t"]
        elif record["event"] == "update_dropped":
            self.dropped[record["reason"]] += 1


class StopOnDone(Actor):
    """Stops its node (`stop`, the node's own method) when the server says the run is over."""

    def __init__(self, stop: Callable[[], None]) -> None:
        self._stop_node = stop

    @handler
    async def on_done(self, msg: Done, sender: str) -> None:
        self._stop_node()


def honest_names(plan: FloodPlan) -> list[str]:
    return [f"honest-{i}" for i in range(plan.honest_clients)]


async def serve_server(plan: FloodPlan) -> None:
    """Child side: run the server until its run is done; print its endpoint, then its report."""
    sink = CountingSink()
    config = ZmqConfig(recv_hwm=plan.recv_hwm)
    node = Node(
        SERVER_NODE,
        ZmqTransport(SERVER_NODE, "tcp://127.0.0.1:*", config),
        config=NodeConfig(mailbox_capacity=plan.mailbox_capacity, compute="thread"),
        sink=sink,
    )
    deps = ServerDeps(
        evaluator=None,
        stop=StopConfig(max_versions=plan.max_versions),
        recorder="stop-on-done",
        expected_clients=frozenset([*honest_names(plan), ROGUE]),
    )
    node.spawn(StopOnDone(node.stop), "stop-on-done")
    server = node.spawn(FedAsyncServer(FedAsyncConfig(alpha=0.5), model(plan.numel, 0.0), deps), "server")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run(handle_signals=True))
        await node.wait_started()
        start_rss = rss_mb("VmRSS")
        print(node.transport.endpoint, flush=True)  # type: ignore[union-attr]
        stop_when_parent_exits(node.stop)
    report_line = {
        "version": server.version,
        "applied": dict(sink.applied),
        "rejected": dict(sink.dropped),
        "applying_s": sink.last_applied_t - (sink.first_applied_t or sink.last_applied_t),
        "start_rss_mb": start_rss,
        "peak_rss_mb": rss_mb("VmHWM"),
        "end_rss_mb": rss_mb("VmRSS"),
    }
    print(json.dumps(report_line), flush=True)


# -- the honest clients and the rogue ----------------------------------------------------


def model(numel: int, value: float) -> StateDict:
    return {"w": torch.full((numel,), value, dtype=torch.float32)}


class FixedTrainer:
    """Returns the same weights for every task, at once."""

    def __init__(self, numel: int, value: float) -> None:
        self.weights = model(numel, value)

    @property
    def num_samples(self) -> int:
        return 10

    def fit(self, w: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        return self.weights, TrainResult(10, 1, 0.5)

    def evaluate(self, w: StateDict) -> Evaluation:
        return Evaluation(0.0, 1.0, 10)


async def serve_honest(plan: FloodPlan, server: str) -> None:
    """Child side: the honest clients, until the parent closes our stdin."""
    node = Node("honest-node", ZmqTransport("honest-node"))
    node.add_route("server", SERVER_NODE, server)
    for i, name in enumerate(honest_names(plan)):
        node.spawn(TrainerClient(FixedTrainer(plan.numel, float(i + 1)), "server"), name)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run(handle_signals=True))
        await node.wait_started()
        print("ready", flush=True)
        stop_when_parent_exits(node.stop)


def rogue_update(numel: int) -> list[Any]:
    """The rogue's frames: a well-formed update for a task that was never issued."""
    update = Update(0, 0, model(numel, 1e3), False, 10, 0.0, 0.0)
    return encode(Envelope(ROGUE, "server", update))


def flood(plan: FloodPlan, server: str) -> None:
    """Child side: join, then send the rogue update as fast as the server takes it until stdin closes."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.ROUTING_ID, b"rogue-node")
    sock.connect(server)
    sock.send_multipart(encode(Envelope(ROGUE, "server", Join(10))))
    frames, sent, waits = rogue_update(plan.numel), 0, 0
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN | zmq.POLLOUT)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    try:
        while True:
            sent, full = _send_burst(sock, frames, sent, plan.flood_before)
            waits += full
            events = dict(poller.poll(1000 if full else 0))
            if sys.stdin.fileno() in events and not os.read(sys.stdin.fileno(), 4096):
                break
            while sock.poll(0, zmq.POLLIN):
                sock.recv_multipart()  # the task it was given on joining: ignored
    finally:
        sock.close(linger=0)
        ctx.term()
    print(json.dumps({"sent": sent, "waits": waits}), flush=True)


def _send_burst(sock: zmq.Socket[Any], frames: list[Any], sent: int, announce_at: int) -> tuple[int, bool]:
    """Send up to 100 updates without blocking; return the new count and whether the queue was full."""
    for _ in range(100):
        try:
            sock.send_multipart(frames, flags=zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return sent, True
        sent += 1
        if sent == announce_at:
            print("flooding", flush=True)
    return sent, False


# -- the parent --------------------------------------------------------------------------


@contextmanager
def child(role: str, plan: FloodPlan, server: str = "") -> Iterator[subprocess.Popen[str]]:
    """`python -m benchmarks.flood --child ROLE ...`; closes its stdin and reaps it on leaving."""
    command = [sys.executable, "-m", "benchmarks.flood", "--child", role, "--plan", json.dumps(asdict(plan))]
    proc = subprocess.Popen(
        [*command, "--bind", server],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # Ctrl-C reaches only the parent; children stop when stdin closes
    )
    try:
        yield proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[str]) -> str:
    """Close the child's stdin (it stops), reap it, and return the rest of its stdout."""
    try:
        out, _ = proc.communicate(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out or ""


def read_line(proc: subprocess.Popen[str], what: str, timeout_s: float = LINE_TIMEOUT_S) -> str:
    """The child's next stdout line.

    Raises:
        RuntimeError: it printed nothing within `timeout_s` (it died, or hangs).
    """
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    line = proc.stdout.readline().strip() if ready else ""
    if not line:
        raise RuntimeError(f"{what}: no line within {timeout_s} s (exit code {proc.poll()})")
    return line


def run_flood(plan: FloodPlan, with_rogue: bool) -> FloodResult:
    """One run: the server, the rogue (if `with_rogue`) flooding first, then the honest clients."""
    with ExitStack() as stack:
        server = stack.enter_context(child("server", plan))
        endpoint = read_line(server, "server endpoint")
        rogue = stack.enter_context(child("rogue", plan, endpoint)) if with_rogue else None
        if rogue is not None:
            read_line(rogue, "rogue flooding")
        honest = stack.enter_context(child("honest", plan, endpoint))
        read_line(honest, "honest clients ready")
        report_line = json.loads(read_line(server, "server report"))
        if rogue is None:
            return FloodResult(report_line)
        sent = json.loads(_stop(rogue).strip().splitlines()[-1])
        return FloodResult(report_line, sent["sent"], sent["waits"])
    raise AssertionError("unreachable")  # ExitStack does not swallow exceptions


# -- the benchmark -------------------------------------------------------------------------

FULL = FloodPlan()
QUICK = FloodPlan(numel=4096, honest_clients=2, max_versions=10, flood_before=2000, recv_hwm=200)


def rows(plan: FloodPlan, repeats: int) -> list[Row]:
    """Baseline and flood alternate, so that load from elsewhere slows both alike."""
    runs: dict[bool, list[FloodResult]] = {False: [], True: []}
    with progress(2 * repeats, "flood") as bar:
        for _ in range(repeats):
            for with_rogue in (False, True):
                runs[with_rogue].append(run_flood(plan, with_rogue))
                bar.update()
    baseline, flooded = runs[False], runs[True]
    sent = sum(r.rogue_sent for r in flooded) // len(flooded)
    bound = plan.queued_mb()
    all_in = all(sum(r.server["applied"].values()) == plan.max_versions for r in baseline + flooded)
    return [
        Row(
            "server peak RSS",
            "same run, no flood",
            Stat.of([r.peak_mb for r in baseline]),
            Stat.of([r.peak_mb for r in flooded]),
            "MB",
            target=f"growth ≤ {bound:,.0f} MB (the queues' bound)",
            met=max(r.growth_mb for r in flooded) <= bound,
            note=f"rogue sent {sent:,} updates of {plan.update_mb:.3f} MB ({sent * plan.update_mb:,.0f} MB)",
        ),
        Row(
            "server RSS growth",
            "same run, no flood",
            Stat.of([r.growth_mb for r in baseline]),
            Stat.of([r.growth_mb for r in flooded]),
            "MB",
            note=f"since binding; queues: recv_hwm {plan.recv_hwm} + mailbox {plan.mailbox_capacity}",
        ),
        Row(
            "honest updates, first to last applied",
            "same run, no flood",
            Stat.of([r.server["applying_s"] for r in baseline]),
            Stat.of([r.server["applying_s"] for r in flooded]),
            "s",
            note=f"{plan.max_versions} updates from {plan.honest_clients} clients; all applied: {all_in}",
        ),
    ]


def main() -> None:
    parser = arg_parser(__doc__.splitlines()[0], child_roles=("server", "honest", "rogue"))
    parser.add_argument("--plan", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        plan = FloodPlan(**json.loads(args.plan))
        if args.child == "rogue":
            flood(plan, args.bind)
        else:
            run_process(serve_server(plan) if args.child == "server" else serve_honest(plan, args.bind))
        return
    plan = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    report(
        "flood", {"mode": "quick" if args.quick else "full", **asdict(plan)}, rows(plan, repeats), args.json
    )


if __name__ == "__main__":
    run_main(main)
