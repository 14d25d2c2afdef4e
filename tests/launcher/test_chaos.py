"""Chaos: real node processes SIGKILLed mid-run; heartbeats notice and the run goes on."""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest

from launcher.lifecycle import EXIT_DEGRADED, expendable_nodes
from launcher.processes import NODE_PID_MARKER
from launcher.testing import wait_until
from sims.build import build_graph
from sims.results import read_events
from tests.launcher.test_run import EXAMPLES, launcher
from topologies.load import load_topology, parse_topology
from topologies.placement import plan_processes

START_TIMEOUT_S = 120.0  # eleven processes import torch on two cores


def node_pid(run_dir: Path, node_id: str) -> int:
    """The pid a node process printed first on its stderr (saved in its log)."""

    def printed() -> int | None:
        log = run_dir / "logs" / f"{node_id}.log"
        first = log.read_text(encoding="utf-8").partition("\n")[0] if log.exists() else ""
        return int(first.removeprefix(NODE_PID_MARKER)) if first.startswith(NODE_PID_MARKER) else None

    return wait_until(printed, START_TIMEOUT_S, f"{node_id}'s pid")


def version(run_dir: Path) -> int:
    """The server's latest version, from the event log as it is written."""
    path = run_dir / "events.jsonl"
    if not path.exists():
        return 0
    latest = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if '"model_updated"' in line and line.endswith("}"):
            latest = max(latest, json.loads(line)["version"])
    return latest


def run_killing(topology: Path, run_dir: Path, kills: list[tuple[int, str]]) -> tuple[int, str]:
    """`fedactors run` the topology; SIGKILL each node once the server reaches its version.
    Returns the exit code and stderr."""
    with launcher("run", str(topology), "--out", str(run_dir)) as proc:
        for at, node_id in kills:
            pid = node_pid(run_dir, node_id)
            wait_until(lambda at=at: version(run_dir) >= at or proc.poll() is not None, 240, f"version {at}")
            assert proc.poll() is None, "the run ended before every kill"
            os.kill(pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=300)
    return proc.returncode, stderr


# The server alone on node-0, two clients on each of node-1 .. node-10; each task takes
# 1-2 s of (real) modelled time, so the run outlasts the kills by many heartbeats.
CHAOS = (
    (EXAMPLES / "fedasync.toml").read_text(encoding="utf-8").replace("processes = 3", "processes = 11")
    + """
[behaviour.compute]
time = { kind = "uniform", low_s = 1.0, high_s = 2.0 }
"""
)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_sigkilling_30_percent_of_client_processes_leaves_a_fedasync_run_reaching_its_target(
    tmp_path: Path,
) -> None:
    topology = tmp_path / "chaos.toml"
    topology.write_text(CHAOS, encoding="utf-8")
    rng = random.Random(7)
    victims = rng.sample([f"node-{i}" for i in range(1, 11)], 3)
    # Kills early (the target takes some hundreds of versions), so that the last loss is
    # noticed, 5 heartbeats later, long before the run can reach its target.
    kills = list(zip(sorted(rng.sample(range(10, 60), 3)), victims, strict=True))
    run_dir = tmp_path / "run"

    code, stderr = run_killing(topology, run_dir, kills)

    assert code == EXIT_DEGRADED, stderr
    for _, node_id in kills:
        assert f"node {node_id!r} on localhost exited with code -9" in stderr
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["finish_reason"] == "target_accuracy", summary
    assert summary["final_accuracy"] >= 0.9
    events = read_events(run_dir / "events.jsonl")
    spec = load_topology(topology)
    plans = {p.node_id: p.actors for p in plan_processes(spec, build_graph(spec))}
    dead = {client for node_id in victims for client in plans[node_id]}
    assert len(dead) == 6
    lost = {r["client"]: r for r in events if r["event"] == "client_lost"}
    assert set(lost) >= dead  # every client of a killed process was noticed
    for client in set(lost) - dead:  # one only starved of CPU for a while joined again
        assert any(
            r["event"] == "client_joined" and r["client"] == client and r["vt"] > lost[client]["vt"]
            for r in events
        ), client
    for client in dead:  # and none of theirs applied after it was found lost
        late = [
            r
            for r in events
            if r["event"] == "update_applied" and r["client"] == client and r["vt"] > lost[client]["vt"]
        ]
        assert late == []


HIERARCHY = """
name = "chaos-hierarchy"
seed = 0
[graph]
template = "hierarchy"
groups = [5, 5]
[server]
algorithm = "fedavg"
min_clients = 2
[scheduler]
mode = "hierfavg"
kappa2 = 2
[client]
epochs = 1
batch_size = 16
lr = 0.05
momentum = 0.9
[model]
kind = "mlp"
hidden = [64]
[data]
kind = "digits"
partition = { kind = "dirichlet", alpha = 0.5 }
[behaviour.compute]
time = { kind = "constant", seconds = 1.0 }
[stop]
max_rounds = 15
max_time_s = 170
[placement.nodes]
node-0 = ["server"]
node-1 = ["sched-0"]
node-2 = ["sched-1"]
node-3 = ["client-000", "client-001", "client-002", "client-003", "client-004"]
node-4 = ["client-005", "client-006", "client-007", "client-008", "client-009"]
"""


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_sigkilling_a_scheduler_process_rehomes_its_clients_to_the_server_and_the_run_completes(
    tmp_path: Path,
) -> None:
    topology = tmp_path / "hierarchy.toml"
    topology.write_text(HIERARCHY, encoding="utf-8")
    run_dir = tmp_path / "run"

    # Deterministic, not a race: each server round is 2 edge rounds of 1 s tasks, and
    # every server round waits for sched-0 until its loss is noticed, so after the kill
    # at version 1 the run makes at most one more version before the loss is known,
    # and 15 rounds (30 s or more) leave the orphans time to join the server.
    code, stderr = run_killing(topology, run_dir, [(1, "node-1")])

    assert code == EXIT_DEGRADED, stderr
    assert "the run goes on without it" in stderr
    events = read_events(run_dir / "events.jsonl")
    orphans = [f"client-00{i}" for i in range(5)]
    moved = [r for r in events if r["event"] == "parent_lost"]
    assert sorted(r["actor"] for r in moved) == orphans
    assert {(r["parent"], r["joins"]) for r in moved} == {("sched-0", "server")}
    assert [r["client"] for r in events if r["event"] == "client_lost"] == ["sched-0"]
    rejoined = {r["client"] for r in events if r["event"] == "client_joined" and r["actor"] == "server"}
    assert rejoined == {*orphans, "sched-0", "sched-1"}
    latest_round = max(r["round"] for r in events if r["event"] == "round_started" and r["actor"] == "server")
    applied_last = {
        r["client"]
        for r in events
        if r["event"] == "update_applied" and r["actor"] == "server" and r["round"] == latest_round
    }
    assert applied_last <= {*orphans, "sched-1"}
    assert applied_last & set(orphans)  # the orphans train for the server itself now
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["finish_reason"] == "max_rounds", summary


def test_with_heartbeats_every_node_but_the_servers_is_expendable() -> None:
    spec = parse_topology(HIERARCHY)
    plans = plan_processes(spec, build_graph(spec))
    assert expendable_nodes(spec, build_graph(spec), plans) == {f"node-{i}" for i in range(1, 5)}
    quiet = parse_topology(HIERARCHY + "[liveness]\nenabled = false\n")
    assert expendable_nodes(quiet, build_graph(quiet), plans) == set()
