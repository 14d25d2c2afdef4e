"""Run a topology on virtual time and keep its actors, so tests can look inside them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from actors.actor import Actor
from actors.clock import LoopClock
from actors.node import Node, NodeConfig
from actors.protocol import Done
from sims.build import NodeBuilder
from sims.recorder import RECORDER, Recorder
from sims.results import read_events
from sims.virtual_time import VirtualTimeLoop, run_virtual
from topologies.load import parse_topology
from topologies.spec import RunSpec


def run_and_keep(text: str, out: Path) -> tuple[dict[str, Actor], list[dict[str, object]]]:
    """Simulate the topology in `text`; return its actors (as they ended) and its events."""
    spec = parse_topology(text)
    out.mkdir(parents=True, exist_ok=True)
    actors: dict[str, Actor] = run_virtual(_run(spec, out))
    return actors, read_events(out / "events.jsonl")


async def _run(spec: RunSpec, out: Path) -> dict[str, Actor]:
    ended = asyncio.Event()

    def on_done(done: Done) -> None:
        ended.set()

    recorder = Recorder(out / "events.jsonl", None, on_done)
    builder = NodeBuilder(spec, recorder=RECORDER)
    node = Node("sim", clock=LoopClock(), config=NodeConfig(mailbox_capacity=10_000), sink=recorder)
    node.spawn(recorder, RECORDER)
    actors = dict(builder.build(builder.actor_ids()))
    for name, actor in actors.items():
        node.spawn(actor, name)
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        stalled = tg.create_task(loop.stalled.wait())
        finished = tg.create_task(ended.wait())
        await asyncio.wait([stalled, finished], return_when=asyncio.FIRST_COMPLETED)
        stalled.cancel()
        finished.cancel()
        node.stop()
    recorder.close()
    if not ended.is_set():
        raise AssertionError("the run stalled: every actor waits and no timer is due")
    return actors
