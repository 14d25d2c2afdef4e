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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from actors.metrics import Record
from actors.node import Node
from actors.protocol import Done
from actors.transport.zeromq import ZmqTransport
from launcher.backends.base import Backend, BackendError, NodeLaunch
from launcher.backends.local import LocalBackend
from launcher.hosts import HostSpec, HostsSpec
from launcher.keys import make_node_keys, node_zmq_config, with_security_resolved
from launcher.lifecycle import (
    EXIT_INTERRUPTED,
    EXIT_NODE_FAILED,
    EXIT_OK,
    EXIT_START_FAILED,
    Watch,
    expendable_nodes,
    supervise,
)
from launcher.processes import NodeProcess
from launcher.rendezvous import COORDINATOR, LAUNCHER_NODE, Coordinator, advertised
from launcher.sim_workers import remote_pool
from sims.build import build_graph
from sims.recorder import RECORDER, Recorder
from sims.results import write_results
from sims.simulate import simulate
from sims.workers.pool import WorkerPool
from sims.workers.start import worker_count
from topologies.placement import NodePlan, plan_processes
from topologies.spec import RunSpec


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended.

    Attributes:
        run_dir: where its files are.
        exit_code: see `launcher.lifecycle` (0 finished, 1 a needed node died,
            3 finished without some nodes, 4 a node failed to start, 130 interrupted).
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


def prepare_run_dir(spec: RunSpec, source: Path | None, run_dir: Path) -> RunSpec:
    """Create the run directory with the file as written (None: resuming, it is there)
    and as resolved; return the resolved spec, which is what the nodes read."""
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    spec = with_checkpoint_directory(spec, run_dir)
    if spec.checkpoint.directory is not None:
        Path(spec.checkpoint.directory).mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, run_dir / "topology.toml")
    (run_dir / "topology.json").write_text(spec.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return spec


def with_checkpoint_directory(spec: RunSpec, run_dir: Path) -> RunSpec:
    """`spec` with `checkpoint.directory` made absolute (relative to the run directory;
    `checkpoints` by default); unchanged for a simulation, which never checkpoints."""
    if spec.mode == "sim":
        return spec
    directory = run_dir.resolve() / (spec.checkpoint.directory or "checkpoints")
    checkpoint = spec.checkpoint.model_copy(update={"directory": str(directory)})
    return spec.model_copy(update={"checkpoint": checkpoint})


PROGRESS_EVERY_S = 0.5  # refresh the bar's rates at most this often: formatting costs every update


class _Progress:
    """The progress bar and the run's end conditions, fed by the recorder."""

    def __init__(self, spec: RunSpec) -> None:
        total = spec.stop.max_versions or spec.stop.max_rounds
        self.bar = tqdm(total=total, desc=spec.name, unit="version", disable=None, dynamic_ncols=True)
        self.done = asyncio.Event()
        self.reason = ""
        self.postfix: dict[str, str] = {}
        self.pool: WorkerPool | None = None
        self._started_at = self._shown_at = time.monotonic()

    def on_record(self, record: Record) -> None:
        if record["event"] == "model_updated":
            self.bar.update(record["version"] - self.bar.n)
            self._rates(record)
        elif record["event"] == "evaluated":
            self.postfix["accuracy"] = f"{record['accuracy']:.3f}"
            self.bar.set_postfix(self.postfix, refresh=False)

    def watch_pool(self, pool: WorkerPool) -> None:
        """Show the simulation's training workers' utilisation too."""
        self.pool = pool

    def _rates(self, record: Record) -> None:
        """Simulated time, updates per wall second and worker use, at most twice a second."""
        now = time.monotonic()
        if now - self._shown_at < PROGRESS_EVERY_S:
            return
        elapsed = now - self._started_at
        self._shown_at = now
        self.postfix["sim"] = f"{record['vt']:.0f}s"
        self.postfix["upd/s"] = f"{self.bar.n / elapsed:.1f}" if elapsed > 0 else "-"
        if self.pool is not None:
            self.postfix["workers"] = f"{self.pool.count}@{self.pool.statistics().utilisation:.0%}"
        self.bar.set_postfix(self.postfix, refresh=False)

    def on_done(self, done: Done) -> None:
        self.reason = done.reason
        self.done.set()

    def echo(self, line: str) -> None:
        self.bar.write(line, file=sys.stderr)


def run_sim(spec: RunSpec, source: Path | None, run_dir: Path) -> RunResult:
    """Run the topology in this process on virtual time (`--mode sim`); `source`, the
    topology file, is copied into the run directory (None: a spec built in Python)."""
    prepare_run_dir(spec, source, run_dir)
    progress = _Progress(spec)
    pool = remote_pool(spec, worker_count(spec), run_dir)  # [sim] hosts: workers over SSH
    try:
        if pool is not None:
            pool.start()
        reason = simulate(spec, run_dir, progress, pool)
    finally:
        if pool is not None:
            pool.close()
        progress.bar.close()
    summary = write_results(run_dir, spec.name, spec.stop.target_accuracy)
    failed = {"interrupted": EXIT_INTERRUPTED, "stalled": EXIT_NODE_FAILED, "actor_failed": EXIT_NODE_FAILED}
    exit_code = failed.get(reason, EXIT_OK)
    return RunResult(run_dir, exit_code, reason, summary)


async def run_local(spec: RunSpec, source: Path | None, run_dir: Path) -> RunResult:
    """Run the topology as node processes on this machine (see the module docstring).

    `source` is the topology file, copied into the run directory; None when the
    run resumes (`launcher.resume`) in the directory that already has it.
    """
    spec = prepare_run_dir(with_security_resolved(spec, all_hosts_local=True), source, run_dir)
    graph = build_graph(spec)
    plans = plan_processes(spec, graph)
    make_node_keys(spec.security, [LAUNCHER_NODE, *(p.node_id for p in plans)])
    here = HostSpec(name="localhost")

    def launch_for(plan: NodePlan, coordinator: str) -> NodeLaunch:
        bind = local_bind(spec, run_dir, plan.node_id)
        return NodeLaunch(
            plan.node_id, here, run_dir / "topology.json", coordinator, bind, run_label=str(run_dir)
        )

    site = LauncherSite(local_bind(spec, run_dir, LAUNCHER_NODE), None, launch_for)
    backend = LocalBackend(HostsSpec(backend="local", hosts={"localhost": {}}))
    return await run_nodes(spec, run_dir, backend, plans, site, expendable_nodes(spec, graph, plans))


@dataclass(frozen=True, slots=True)
class LauncherSite:
    """Where the launcher listens, and how each node is told to meet it.

    Attributes:
        bind: the launcher node's bind address (`tcp://ADDR:*` or `ipc://PATH`).
        dial: the host nodes dial instead of the bound one (None: as bound).
        launch_for: the `NodeLaunch` of a plan, given the coordinator's endpoint.
    """

    bind: str
    dial: str | None
    launch_for: Callable[[NodePlan, str], NodeLaunch]


async def run_nodes(
    spec: RunSpec,
    run_dir: Path,
    backend: Backend,
    plans: list[NodePlan],
    site: LauncherSite,
    expendable: set[str],
) -> RunResult:
    """Run `plans` through `backend` with the coordinator and recorder in this process.

    The run directory must be prepared (`prepare_run_dir`) with the spec the nodes read.
    """
    progress = _Progress(spec)
    events = run_dir / "events.jsonl"
    recorder = Recorder(events, progress.on_record, progress.on_done, append=spec.checkpoint.resume)
    node = _launcher_node(spec, site.bind, recorder)
    serving = asyncio.create_task(node.run(), name="launcher-node")
    nodes: list[NodeProcess] = []
    try:
        await node.wait_started()
        assert node.transport is not None
        watch = Watch(progress.done, asyncio.Event(), expendable, progress.echo)
        ids = [p.node_id for p in plans]
        coordinator = Coordinator(ids, node.transport.endpoint, _on_started(watch, plans, run_dir))
        node.spawn(coordinator, COORDINATOR)
        endpoint = advertised(node.transport.endpoint, site.dial)
        launches = [site.launch_for(p, endpoint) for p in plans]
        exit_code, reason = await _start_all(backend, launches, run_dir, progress, nodes)
        if exit_code is None:
            exit_code, reason = await supervise(nodes, watch)
        await coordinator.shutdown_all(reason or progress.reason)
        await backend.stop(nodes)
    finally:
        await backend.stop(nodes, grace_s=2.0)
        node.stop()
        await serving
        recorder.close()
        progress.bar.close()
    summary = write_results(run_dir, spec.name, spec.stop.target_accuracy)
    return RunResult(run_dir, exit_code, reason or progress.reason, summary)


def _launcher_node(spec: RunSpec, bind: str, recorder: Recorder) -> Node:
    """The launcher's own node: it hosts the recorder now and the coordinator once bound."""
    transport = ZmqTransport(LAUNCHER_NODE, bind, node_zmq_config(spec.security, LAUNCHER_NODE))
    node = Node(LAUNCHER_NODE, transport, sink=recorder)
    node.spawn(recorder, RECORDER)
    return node


def _on_started(watch: Watch, plans: list[NodePlan], run_dir: Path) -> Callable[[], None]:
    def on_started() -> None:
        watch.started.set()
        hosts = len({p.host for p in plans})
        events = run_dir / "events.jsonl"
        watch.echo(f"run started: {len(plans)} node processes on {hosts} host(s), events in {events}")

    return on_started


async def _start_all(
    backend: Backend, launches: list[NodeLaunch], run_dir: Path, progress: _Progress, nodes: list[NodeProcess]
) -> tuple[int | None, str]:
    """Start every node into `nodes`; (None, "") or, if one cannot start, the code and reason."""
    for launch in launches:
        try:
            nodes.append(await backend.start(launch, run_dir / "logs", progress.echo))
        except BackendError as exc:
            progress.echo(str(exc))
            return EXIT_START_FAILED, f"start_failed: {exc}"
    return None, ""


def local_bind(spec: RunSpec, run_dir: Path, node_id: str) -> str:
    if spec.placement.transport == "ipc":
        return f"ipc://{run_dir.resolve()}/{node_id}.sock"
    return "tcp://127.0.0.1:*"
