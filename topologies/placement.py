"""Placement: which node process hosts which actors.

The launcher and every node process compute the same plan from the same
file, so a node needs only its id to know what to build.
"""

from __future__ import annotations

from dataclasses import dataclass

from topologies.graph import Graph
from topologies.spec import RunSpec


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One node process and the actors it hosts (parents before children)."""

    node_id: str
    actors: tuple[str, ...]


def plan_processes(spec: RunSpec, graph: Graph) -> list[NodePlan]:
    """Servers on `node-0`; clients spread evenly, in blocks, over the other processes.

    With `placement.processes = 1` every actor shares `node-0`.
    """
    count = spec.placement.processes
    servers = [n.id for n in graph.nodes if n.role != "client"]
    clients = [n.id for n in graph.of_role("client")]
    if count == 1:
        return [NodePlan("node-0", (*servers, *clients))]
    workers = count - 1
    blocks = [
        clients[i * len(clients) // workers : (i + 1) * len(clients) // workers] for i in range(workers)
    ]
    return [NodePlan("node-0", tuple(servers))] + [
        NodePlan(f"node-{i + 1}", tuple(block)) for i, block in enumerate(blocks) if block
    ]
