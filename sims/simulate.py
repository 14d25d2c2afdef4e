"""`fedactors run FILE --mode sim`: every actor of a run in one process, on virtual time.

The same actors as a real run, on one node with no transport, compute inline,
and a `VirtualTimeLoop`: waiting (compute times, link delays, deadlines) costs
no wall time, and the same file and seed give the same events in the same
order, bit for bit.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import torch

from actors.clock import LoopClock
from actors.node import Node, NodeConfig
from actors.protocol import Done
from sims.build import NodeBuilder
from sims.recorder import RECORDER, Recorder
from sims.virtual_time import VirtualTimeLoop, run_virtual
from topologies.spec import RunSpec

SIM_NODE = "sim"
# Every actor shares one node: mailboxes large enough that 1,000+ clients
# joining at once do not make the run wait on backpressure it would not have.
SIM_MAILBOX_CAPACITY = 100_000


def simulate(spec: RunSpec, run_dir: Path, progress: object | None = None) -> str:
    """Run the topology on virtual time; return why it ended.

    Writes `run_dir/events.jsonl` (the caller writes the summary and plots).
    Training runs inline on one torch thread: the models FL simulations train
    are small, and a second intra-op thread costs more than it gains (8x per
    step on a loaded 2-core machine).
    """
    torch.set_num_threads(1)
    return run_virtual(_simulate(spec, run_dir, progress))  # type: ignore[no-any-return]


async def _simulate(spec: RunSpec, run_dir: Path, progress: object | None) -> str:
    outcome: dict[str, str] = {}
    ended = asyncio.Event()

    def on_done(done: Done) -> None:
        outcome.setdefault("reason", done.reason)
        ended.set()

    on_record = getattr(progress, "on_record", None)
    recorder = Recorder(run_dir / "events.jsonl", on_record, on_done)
    builder = NodeBuilder(spec, recorder=RECORDER)
    node = Node(
        SIM_NODE,
        clock=LoopClock(),
        config=NodeConfig(mailbox_capacity=SIM_MAILBOX_CAPACITY, compute="inline"),
        sink=recorder,
        links=builder.links(),
    )
    node.spawn(recorder, RECORDER)
    for name, actor in builder.build(builder.actor_ids()):
        node.spawn(actor, name)
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: (outcome.setdefault("reason", "interrupted"), ended.set()))
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        stall = tg.create_task(_note_stall(loop, outcome, ended))
        failure = tg.create_task(_note_failure(node, outcome, ended))
        await ended.wait()
        stall.cancel()
        failure.cancel()
        node.stop()
    recorder.close()
    return outcome["reason"]


async def _note_failure(node: Node, outcome: dict[str, str], ended: asyncio.Event) -> None:
    await node.failed.wait()
    outcome.setdefault("reason", "actor_failed")
    ended.set()


async def _note_stall(loop: VirtualTimeLoop, outcome: dict[str, str], ended: asyncio.Event) -> None:
    await loop.stalled.wait()
    outcome.setdefault("reason", "stalled")
    ended.set()
