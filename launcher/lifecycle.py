"""How a launched run ends, and what its exit code says.

| code | name | what happened |
|---|---|---|
| 0 | `EXIT_OK` | the stopping rule fired with every node alive |
| 1 | `EXIT_NODE_FAILED` | a needed node died mid-run (the server's, the last learners'), or an actor failed |
| 2 | `EXIT_BAD_INPUT` | the topology or hosts file was refused; nothing started |
| 3 | `EXIT_DEGRADED` | the stopping rule fired, but nodes died on the way and the run went on without them |
| 4 | `EXIT_START_FAILED` | a node could not start or register (host, command, stderr tail printed) |
| 130 | `EXIT_INTERRUPTED` | Ctrl-C (SIGINT) or SIGTERM |

An actor whose own task raises (or a server whose update handler raises)
stops its node: the traceback is in that node's log (`task_failed`, then
`run_failed`) and the node process exits 1, so a bug is never a silent stall.

A node may die mid-run without ending it when what it hosts can be done
without. With heartbeats (`[liveness]`, on by default) that is every node but
the server's: a lost client's task is re-issued (asynchronous servers) or no
longer waited for (synchronous rounds), and the children of a lost scheduler
join its parent or declared fallback. Gossip has no parent to notice a lost
peer: pairwise gossip survives (its peers skip a neighbour that does not
answer), D-PSGD does not (its rounds wait for every neighbour). Without
heartbeats only learner nodes under an asynchronous server with
`server.task_timeout_s` are expendable. In every case every other node is
stopped before the launcher exits.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from launcher.processes import NodeProcess
from topologies.graph import Graph
from topologies.placement import NodePlan
from topologies.spec import RunSpec

EXIT_OK = 0
EXIT_NODE_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_DEGRADED = 3
EXIT_START_FAILED = 4
EXIT_INTERRUPTED = 130
RENDEZVOUS_TIMEOUT_S = 120.0  # a node imports torch and builds its data before it registers


def expendable_nodes(spec: RunSpec, graph: Graph, plans: Sequence[NodePlan]) -> set[str]:
    """The nodes whose death the run survives (see the module docstring)."""
    if not _recovers_lost_learners(spec, graph):
        return set()
    spare = {n.id for n in graph.learners()}
    if graph.kind != "gossip" and spec.liveness.enabled:
        spare |= {n.id for n in graph.of_role("scheduler")}
    return {p.node_id for p in plans if p.actors and set(p.actors) <= spare}


def _recovers_lost_learners(spec: RunSpec, graph: Graph) -> bool:
    if graph.kind == "gossip":  # pairwise gossip skips a neighbour that does not answer; D-PSGD waits
        return spec.peer is not None and spec.peer.algorithm == "pairwise"
    if spec.liveness.enabled:  # heartbeats find the lost clients and schedulers
        return True
    if graph.count("scheduler"):  # an edge's own rounds would wait for its lost clients
        return False
    server = spec.server
    return server is not None and server.algorithm != "fedavg" and server.task_timeout_s is not None


@dataclass
class Watch:
    """What the supervisor waits on.

    Attributes:
        done: set when the server's stopping rule fired.
        started: set when every node has started its actors.
        expendable: nodes whose death the run survives.
        echo: where reports go (stderr, above the progress bar).
        lost: the nodes that died while the run went on.
    """

    done: asyncio.Event
    started: asyncio.Event
    expendable: set[str]
    echo: Callable[[str], None]
    lost: list[NodeProcess] = field(default_factory=list)


async def supervise(nodes: list[NodeProcess], watch: Watch) -> tuple[int, str]:
    """Wait for the end of the run; its exit code and reason."""
    interrupted = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)
    try:
        while True:
            what, dead = await _next_event(nodes, watch, interrupted)
            if what != "node_exited" or dead is None or not _goes_on(dead, nodes, watch):
                return _outcome(what, dead, watch)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _next_event(
    nodes: list[NodeProcess], watch: Watch, interrupted: asyncio.Event
) -> tuple[str, NodeProcess | None]:
    alive = [n for n in nodes if n.alive and n not in watch.lost]
    dead = next((n for n in nodes if not n.alive and n not in watch.lost), None)
    if dead is not None:
        return "node_exited", dead
    waits: dict[asyncio.Future[object], str] = {
        asyncio.ensure_future(watch.done.wait()): "done",
        asyncio.ensure_future(interrupted.wait()): "interrupted",
        asyncio.ensure_future(_start_deadline(watch.started)): "start_timeout",
        **{asyncio.ensure_future(n.proc.wait()): "node_exited" for n in alive},
    }
    try:
        finished, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)
    what = sorted(waits[t] for t in finished)[0]  # "done" before a node's exit at the same moment
    dead = next((n for n in nodes if not n.alive and n not in watch.lost), None)
    return what, dead


def _goes_on(dead: NodeProcess, nodes: list[NodeProcess], watch: Watch) -> bool:
    """Report a node that died; whether the run survives it."""
    if not watch.started.is_set() or dead.node_id not in watch.expendable:
        return False
    survivors = [n for n in nodes if n.alive and n.node_id in watch.expendable]
    if not survivors:
        return False
    watch.lost.append(dead)
    watch.echo(
        f"{dead.describe_failure()}\n  the run goes on without it ({len(survivors)} learner nodes left)"
    )
    return True


def _outcome(what: str, dead: NodeProcess | None, watch: Watch) -> tuple[int, str]:
    if what == "done":
        return (EXIT_DEGRADED if watch.lost else EXIT_OK), ""
    if what == "interrupted":
        watch.echo("interrupted: stopping every node")
        return EXIT_INTERRUPTED, "interrupted"
    if what == "start_timeout":
        watch.echo(f"nodes did not all register within {RENDEZVOUS_TIMEOUT_S} s")
        return EXIT_START_FAILED, "start_timeout"
    assert dead is not None
    watch.echo(dead.describe_failure())
    reason = f"node {dead.node_id} on {dead.host} exited with code {dead.proc.returncode}"
    if not watch.started.is_set():
        return EXIT_START_FAILED, f"start_failed: {reason}"
    return EXIT_NODE_FAILED, reason


async def _start_deadline(started: asyncio.Event) -> None:
    try:
        async with asyncio.timeout(RENDEZVOUS_TIMEOUT_S):
            await started.wait()
    except TimeoutError:
        return
    await asyncio.Future()  # started in time: never the reason the run ends
