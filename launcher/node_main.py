"""`fedactors node`: one node process of a run, started by a launcher.

It rebuilds the run's graph and placement from the topology, builds only its
own actors, binds an ephemeral port, and meets the others through the
launcher's coordinator (the only address it is given).

Started by a remote backend, it reads the topology from the first line of its
stdin (`SPEC` is `-`) and exits when the rest of stdin ends: the launcher
closed it, or the connection carrying it dropped.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from pathlib import Path

import torch

from actors.clock import WallClock
from actors.errors import ActorFailedError
from actors.logs import log_off_the_loop
from actors.node import Node
from actors.reporter import Reporter
from actors.slots import NodeConfig
from actors.transport.zeromq import ZmqTransport
from launcher.keys import install_shipped_keys, node_zmq_config, ships_keys
from launcher.rendezvous import COORDINATOR, LAUNCHER_NODE, NodeAgent, agent_name
from sims.build import NodeBuilder
from sims.recorder import RECORDER
from topologies.placement import plan_processes
from topologies.spec import RunSpec

STDIN_EOF_GRACE_S = 10.0  # after stdin ends: SIGTERM, then SIGKILL this long after if still alive


def announce_pid() -> None:
    """Print `NODE_PID_MARKER<pid>`: how a launcher learns the pid to signal on a remote host."""
    from launcher.processes import NODE_PID_MARKER

    print(f"{NODE_PID_MARKER}{os.getpid()}", file=sys.stderr, flush=True)


def read_spec(source: str) -> RunSpec:
    """The resolved topology from a file, or from the first line of stdin when `source` is `-`.

    On stdin, a run with a key pair per node has a second line: this node's
    shipped keys, written into its `keys_dir` here (`launcher.keys.node_stdin`).
    """
    if source != "-":
        return RunSpec.model_validate_json(Path(source).read_text(encoding="utf-8"))
    spec = RunSpec.model_validate_json(sys.stdin.readline())
    if ships_keys(spec.security):
        install_shipped_keys(json.loads(sys.stdin.readline() or "{}"))
    return spec


def exit_on_stdin_eof(grace_s: float = STDIN_EOF_GRACE_S) -> None:
    """Watch stdin in a daemon thread: at its end SIGTERM this process (the node stops
    cleanly), and SIGKILL it `grace_s` later if it is still there."""

    def watch() -> None:
        # the raw descriptor, not sys.stdin: a thread blocked inside a buffered
        # reader holds its lock, and interpreter shutdown aborts on that lock
        while os.read(sys.stdin.fileno(), 65536):
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        threading.Event().wait(grace_s)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()


async def serve_node(
    spec: RunSpec | Path,
    node_id: str,
    coordinator: str,
    bind: str = "tcp://127.0.0.1:*",
    advertise: str | None = None,
) -> None:
    """Run node `node_id` of the run `spec` (or the topology JSON at that path) until the launcher says stop.

    Raises:
        KeyError: the placement has no node `node_id`.
    """
    log_off_the_loop()  # a stderr pipe the launcher does not drain must not stall the node
    # Several node processes share a few cores: one intra-op thread each avoids
    # oversubscription, which costs far more than it gains on small models.
    torch.set_num_threads(1)
    if isinstance(spec, Path):
        spec = RunSpec.model_validate_json(spec.read_text(encoding="utf-8"))  # noqa: ASYNC240 - before the node runs
    heartbeats = spec.liveness.on_clock(spec.placement.time_scale)
    builder = NodeBuilder(spec, recorder=RECORDER, heartbeats=heartbeats)
    plan = {p.node_id: p for p in plan_processes(spec, builder.graph)}[node_id]
    reporter = Reporter(RECORDER)
    node = Node(
        node_id,
        ZmqTransport(node_id, bind, node_zmq_config(spec.security, node_id)),
        clock=WallClock(spec.placement.time_scale),
        config=NodeConfig(compute="thread"),
        sink=reporter,
        links=builder.links(),
        compression=builder.compression(),  # [compression] in real runs too, not only simulations
    )
    node.add_route(COORDINATOR, LAUNCHER_NODE, coordinator)
    node.add_route(RECORDER, LAUNCHER_NODE, coordinator)
    node.spawn(reporter, f"reporter@{node_id}")
    node.spawn(NodeAgent(node, builder.build(plan.actors), advertise), agent_name(node_id))
    await node.run(handle_signals=True)
    if node.failure is not None:  # the process exits 1; the traceback is in the log (task_failed)
        raise ActorFailedError(node.failure)
