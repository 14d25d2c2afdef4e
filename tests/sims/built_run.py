"""Run a topology on virtual time and keep its actors, so tests can look inside them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import torch

from actors.actor import Actor
from actors.clock import LoopClock
from actors.liveness import Heartbeats
from actors.node import Node, NodeConfig
from actors.protocol import Done
from sims.build import NodeBuilder
from sims.recorder import RECORDER, Recorder
from sims.results import read_events
from sims.virtual_time import VirtualTimeLoop, run_virtual
from sims.workers.pool import WorkerPool
from topologies.load import parse_topology
from topologies.spec import RunSpec


def run_and_keep(
    text: str,
    out: Path,
    *,
    heartbeats: Heartbeats | None = None,
    kills: dict[float, list[str]] | None = None,
    pool: WorkerPool | None = None,
) -> tuple[dict[str, Actor], list[dict[str, object]]]:
    """Simulate the topology in `text`; return its actors (as they ended) and its events.

    Args:
        heartbeats: heartbeat every parent–child link, as a real run does.
        kills: virtual time -> actors stopped then (they die: no goodbye, no more messages).
        pool: train on these workers (None: inline).
    """
    spec = parse_topology(text)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)  # as `simulate` and its workers: the same reduction order, the same bits
    if pool is not None:
        pool.prepare(spec)
    actors: dict[str, Actor] = run_virtual(_run(spec, out, heartbeats, kills or {}, pool))
    return actors, read_events(out / "events.jsonl")


async def _run(
    spec: RunSpec,
    out: Path,
    heartbeats: Heartbeats | None,
    kills: dict[float, list[str]],
    pool: WorkerPool | None,
) -> dict[str, Actor]:
    ended = asyncio.Event()

    def on_done(done: Done) -> None:
        ended.set()

    recorder = Recorder(out / "events.jsonl", None, on_done)
    submit = None if pool is None else pool.submit
    builder = NodeBuilder(spec, recorder=RECORDER, heartbeats=heartbeats, submit=submit)
    node = Node("sim", clock=LoopClock(), config=NodeConfig(mailbox_capacity=10_000), sink=recorder)
    node.spawn(recorder, RECORDER)
    actors = dict(builder.build(builder.actor_ids()))
    for name, actor in actors.items():
        node.spawn(actor, name)
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)

    async def kill_on_time() -> None:
        for at in sorted(kills):
            await node.clock.sleep_until(at)
            for name in kills[at]:
                recorder.emit(
                    {"t": 0.0, "vt": node.clock.now(), "node": "sim", "actor": name, "event": "killed"}
                )
                node.stop_actor(name)

    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        killer = tg.create_task(kill_on_time())
        stalled = tg.create_task(loop.stalled.wait())
        finished = tg.create_task(ended.wait())
        await asyncio.wait([stalled, finished], return_when=asyncio.FIRST_COMPLETED)
        stalled.cancel()
        finished.cancel()
        killer.cancel()
        node.stop()
    recorder.close()
    if not ended.is_set():
        raise AssertionError("the run stalled: every actor waits and no timer is due")
    return actors
