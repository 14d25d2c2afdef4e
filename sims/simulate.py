"""`fedactors run FILE --mode sim`: every actor of a run in one process, on virtual time.

The same actors as a real run, on one node with no transport, compute inline,
and a `VirtualTimeLoop`: waiting (compute times, link delays, deadlines) costs
no wall time, and the same file and seed give the same events in the same
order, bit for bit.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from pathlib import Path

import torch

from actors.clock import LoopClock
from actors.metrics import Record
from actors.node import Node
from actors.protocol import Done
from actors.slots import NodeConfig
from sims.build import NodeBuilder
from sims.guard import RunGuard
from sims.recorder import RECORDER, Recorder
from sims.virtual_time import VirtualTimeLoop, run_virtual
from sims.workers.pool import WorkerPool
from sims.workers.start import start_local, worker_count
from topologies.spec import RunSpec

SIM_NODE = "sim"
# Every actor shares one node: mailboxes large enough that 1,000+ clients
# joining at once do not make the run wait on backpressure it would not have.
SIM_MAILBOX_CAPACITY = 100_000


def simulate(
    spec: RunSpec, run_dir: Path, progress: object | None = None, pool: WorkerPool | None = None
) -> str:
    """Run the topology on virtual time; return why it ended.

    Writes `run_dir/events.jsonl` (the caller writes the summary and plots).
    Training runs on one torch thread per process: the models FL simulations
    train are small, and a second intra-op thread costs more than it gains (8x
    per step on a loaded 2-core machine). With one worker (`[sim] workers`) it
    runs inline; with more, on local worker processes started for the run,
    or on `pool`'s (started by the caller, who closes it), and the events and
    weights are the same.

    Raises:
        WorkerError: a worker did not start, or died during the run.
    """
    torch.set_num_threads(1)
    if pool is not None:
        return _on_pool(spec, run_dir, progress, pool)
    count = worker_count(spec)
    if count == 1:
        return run_virtual(_simulate(spec, run_dir, progress, None))
    own = WorkerPool(count, start_local(run_dir / "logs"), spec.sim.devices or [spec.client.device])
    try:
        own.start()
        return _on_pool(spec, run_dir, progress, own)
    finally:
        own.close()


def _on_pool(spec: RunSpec, run_dir: Path, progress: object | None, pool: WorkerPool) -> str:
    pool.prepare(spec)
    watch = getattr(progress, "watch_pool", None)
    if watch is not None:
        watch(pool)
    try:
        return run_virtual(_simulate(spec, run_dir, progress, pool))
    except BaseException:
        if pool.failure is not None:
            raise pool.failure from None
        raise


async def _simulate(spec: RunSpec, run_dir: Path, progress: object | None, pool: WorkerPool | None) -> str:
    outcome: dict[str, str] = {}
    ended = asyncio.Event()
    loop = asyncio.get_running_loop()
    if pool is not None:
        pool.on_failure = lambda _: loop.call_soon_threadsafe(ended.set)

    def end(reason: str) -> None:
        outcome.setdefault("reason", reason)
        ended.set()

    def on_done(done: Done) -> None:
        end(done.reason)

    on_record = getattr(progress, "on_record", None)
    recorder = Recorder(run_dir / "events.jsonl", lambda r: _watch(guard, on_record, r), on_done)
    builder = NodeBuilder(spec, recorder=RECORDER, submit=None if pool is None else pool.submit)
    actor_ids = builder.actor_ids()
    guard = RunGuard(spec.stop, recorder, end, len(actor_ids), getattr(progress, "echo", None))
    node = _sim_node(builder, recorder, actor_ids)
    assert isinstance(loop, VirtualTimeLoop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: end("interrupted"))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        stall = tg.create_task(_note_stall(loop, guard))
        clock = tg.create_task(guard.watch_clock())
        failure = tg.create_task(_note_failure(node, end))
        await ended.wait()
        stall.cancel()
        clock.cancel()
        failure.cancel()
        node.stop()
    recorder.close()
    if pool is not None and pool.failure is not None:
        raise pool.failure
    return outcome["reason"]


def _sim_node(builder: NodeBuilder, recorder: Recorder, actor_ids: list[str]) -> Node:
    """The simulation's one node on the virtual clock, hosting the recorder and every actor."""
    node = Node(
        SIM_NODE,
        clock=LoopClock(),
        config=NodeConfig(mailbox_capacity=SIM_MAILBOX_CAPACITY, compute="inline"),
        sink=recorder,
        links=builder.links(),
        compression=builder.compression(),
    )
    node.spawn(recorder, RECORDER)
    for name, actor in builder.build(actor_ids):
        node.spawn(actor, name)
    return node


def _watch(guard: RunGuard, on_record: Callable[[Record], None] | None, record: Record) -> None:
    guard.on_record(record)
    if on_record is not None:
        on_record(record)


async def _note_failure(node: Node, end: Callable[[str], None]) -> None:
    await node.failed.wait()
    end("actor_failed")


async def _note_stall(loop: VirtualTimeLoop, guard: RunGuard) -> None:
    await loop.stalled.wait()
    guard.finish(
        "stalled", message="stalled: every actor waits and no timer is set, nothing can happen any more"
    )
