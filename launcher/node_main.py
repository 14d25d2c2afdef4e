"""`fedactors node`: one node process of a run, started by a launcher.

It rebuilds the run's graph and placement from the topology, builds only its
own actors, binds an ephemeral port, and meets the others through the
launcher's coordinator (the only address it is given).
"""

from __future__ import annotations

from pathlib import Path

import torch

from actors.clock import WallClock
from actors.node import Node, NodeConfig
from actors.reporter import Reporter
from actors.transport.zeromq import ZmqTransport
from launcher.rendezvous import COORDINATOR, NodeAgent, agent_name
from sims.build import NodeBuilder
from sims.recorder import RECORDER
from topologies.placement import plan_processes
from topologies.spec import RunSpec

LAUNCHER_NODE = "launcher"


async def serve_node(
    spec_path: Path,
    node_id: str,
    coordinator: str,
    bind: str = "tcp://127.0.0.1:*",
    advertise: str | None = None,
) -> None:
    """Run node `node_id` of the run in `spec_path` until the launcher says stop.

    Raises:
        KeyError: the placement has no node `node_id`.
    """
    # Several node processes share a few cores: one intra-op thread each avoids
    # oversubscription, which costs far more than it gains on small models.
    torch.set_num_threads(1)
    spec = RunSpec.model_validate_json(spec_path.read_text(encoding="utf-8"))  # noqa: ASYNC240 - before the node runs
    builder = NodeBuilder(spec, recorder=RECORDER)
    plan = {p.node_id: p for p in plan_processes(spec, builder.graph)}[node_id]
    reporter = Reporter(RECORDER)
    node = Node(
        node_id,
        ZmqTransport(node_id, bind),
        clock=WallClock(spec.placement.time_scale),
        config=NodeConfig(compute="thread"),
        sink=reporter,
        links=builder.links(),
    )
    node.add_route(COORDINATOR, LAUNCHER_NODE, coordinator)
    node.add_route(RECORDER, LAUNCHER_NODE, coordinator)
    node.spawn(reporter, f"reporter@{node_id}")
    node.spawn(NodeAgent(builder.build(plan.actors), advertise), agent_name(node_id))
    await node.run(handle_signals=True)
