"""`fedactors run`: a whole run over real processes on this machine.

The launcher process hosts the coordinator and the recorder on its own node;
each node process (`fedactors node`) meets it through the coordinator's
address, builds its own actors and trains. The run ends when the server's
stopping rule fires, when a node dies, or on Ctrl-C; in every case every
process is stopped and the run directory gets what was recorded.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from actors.metrics import Record
from actors.node import Node
from actors.protocol import Done
from actors.transport.zeromq import ZmqTransport
from launcher.node_main import LAUNCHER_NODE
from launcher.processes import NodeProcess, start_process, wait_all
from launcher.rendezvous import COORDINATOR, Coordinator
from sims.build import build_graph
from sims.recorder import RECORDER, Recorder
from sims.results import write_results
from sims.simulate import simulate
from topologies.placement import plan_processes
from topologies.spec import RunSpec

EXIT_OK = 0
EXIT_NODE_FAILED = 1
EXIT_INTERRUPTED = 130
RENDEZVOUS_TIMEOUT_S = 120.0  # a node imports torch and builds its data before it registers


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended.

    Attributes:
        run_dir: where its files are.
        exit_code: 0 finished, 1 a node failed, 130 interrupted.
        reason: the stopping rule that fired, or what went wrong.
        summary: the contents of `summary.json`.
    """

    run_dir: Path
    exit_code: int
    reason: str
    summary: dict[str, Any]


def default_run_dir(spec: RunSpec, root: Path = Path("runs")) -> Path:
    """`runs/<name>-<UTC time>`."""
    return root / f"{spec.name}-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def prepare_run_dir(spec: RunSpec, source: Path, run_dir: Path) -> Path:
    """Create the run directory with the file as written and as resolved."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, run_dir / "topology.toml")
    (run_dir / "topology.json").write_text(spec.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return run_dir


class _Progress:
    """The progress bar and the run's end conditions, fed by the recorder."""

    def __init__(self, spec: RunSpec) -> None:
        total = spec.stop.max_versions or spec.stop.max_rounds
        self.bar = tqdm(total=total, desc=spec.name, unit="version", disable=None, dynamic_ncols=True)
        self.done = asyncio.Event()
        self.reason = ""

    def on_record(self, record: Record) -> None:
        if record["event"] == "model_updated":
            self.bar.update(record["version"] - self.bar.n)
        elif record["event"] == "evaluated":
            self.bar.set_postfix(accuracy=f"{record['accuracy']:.3f}", refresh=False)

    def on_done(self, done: Done) -> None:
        self.reason = done.reason
        self.done.set()

    def echo(self, line: str) -> None:
        self.bar.write(line, file=sys.stderr)


def run_sim(spec: RunSpec, source: Path, run_dir: Path) -> RunResult:
    """Run the topology in this process on virtual time (`--mode sim`)."""
    prepare_run_dir(spec, source, run_dir)
    progress = _Progress(spec)
    try:
        reason = simulate(spec, run_dir, progress)
    finally:
        progress.bar.close()
    summary = write_results(run_dir, spec.name, spec.stop.target_accuracy)
    exit_code = {"interrupted": EXIT_INTERRUPTED, "stalled": EXIT_NODE_FAILED}.get(reason, EXIT_OK)
    return RunResult(run_dir, exit_code, reason, summary)


async def run_local(spec: RunSpec, source: Path, run_dir: Path) -> RunResult:
    """Run the topology as node processes on this machine (see the module docstring)."""
    prepare_run_dir(spec, source, run_dir)
    plans = plan_processes(spec, build_graph(spec))
    progress = _Progress(spec)
    recorder = Recorder(run_dir / "events.jsonl", progress.on_record, progress.on_done)
    node = Node(
        LAUNCHER_NODE, ZmqTransport(LAUNCHER_NODE, _bind(spec, run_dir, LAUNCHER_NODE)), sink=recorder
    )
    node.spawn(recorder, RECORDER)
    serving = asyncio.create_task(node.run(), name="launcher-node")
    nodes: list[NodeProcess] = []
    try:
        await node.wait_started()
        started = asyncio.Event()

        def on_started() -> None:
            started.set()
            progress.echo(f"run started: {len(plans)} node processes, events in {run_dir / 'events.jsonl'}")

        coordinator = Coordinator([p.node_id for p in plans], node.transport.endpoint, on_started)  # type: ignore[union-attr]
        node.spawn(coordinator, COORDINATOR)
        for plan in plans:
            command = _node_command(run_dir, plan.node_id, node.transport.endpoint, spec)  # type: ignore[union-attr]
            nodes.append(await start_process(plan.node_id, command, run_dir / "logs", progress.echo))
        exit_code, reason = await _supervise(nodes, progress, started)
        await coordinator.shutdown_all(reason)
        await wait_all(nodes)
    finally:
        await wait_all(nodes, timeout_s=2.0)
        node.stop()
        await serving
        recorder.close()
        progress.bar.close()
    summary = write_results(run_dir, spec.name, spec.stop.target_accuracy)
    return RunResult(run_dir, exit_code, reason, summary)


async def _supervise(
    nodes: list[NodeProcess], progress: _Progress, started: asyncio.Event
) -> tuple[int, str]:
    """Wait for the end of the run: done, a node's death, Ctrl-C, or a failed start."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    loop.add_signal_handler(signal.SIGTERM, interrupted.set)
    waits = {
        asyncio.create_task(progress.done.wait()): "done",
        asyncio.create_task(interrupted.wait()): "interrupted",
        asyncio.create_task(_first_exit(nodes)): "node_exited",
        asyncio.create_task(_start_deadline(started)): "start_timeout",
    }
    try:
        finished, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
    what = waits[finished.pop()]
    if what == "done":
        return EXIT_OK, progress.reason
    if what == "interrupted":
        progress.echo("interrupted: stopping every node")
        return EXIT_INTERRUPTED, "interrupted"
    if what == "start_timeout":
        progress.echo(f"nodes did not all register within {RENDEZVOUS_TIMEOUT_S} s")
        return EXIT_NODE_FAILED, "start_timeout"
    dead = next(n for n in nodes if n.proc.returncode is not None)
    progress.echo(dead.describe_failure())
    return EXIT_NODE_FAILED, f"node {dead.node_id} exited with code {dead.proc.returncode}"


async def _first_exit(nodes: list[NodeProcess]) -> None:
    waiters = [asyncio.ensure_future(n.proc.wait()) for n in nodes]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _start_deadline(started: asyncio.Event) -> None:
    try:
        async with asyncio.timeout(RENDEZVOUS_TIMEOUT_S):
            await started.wait()
    except TimeoutError:
        return
    await asyncio.Future()  # started in time: never the reason the run ends


def _bind(spec: RunSpec, run_dir: Path, node_id: str) -> str:
    if spec.placement.transport == "ipc":
        return f"ipc://{run_dir.resolve()}/{node_id}.sock"
    return "tcp://127.0.0.1:*"


def _node_command(run_dir: Path, node_id: str, coordinator: str, spec: RunSpec) -> list[str]:
    return [
        sys.executable,
        "-m",
        "launcher.cli",
        "node",
        str(run_dir / "topology.json"),
        "--node-id",
        node_id,
        "--coordinator",
        coordinator,
        "--bind",
        _bind(spec, run_dir, node_id),
        "--die-with-parent",
    ]
