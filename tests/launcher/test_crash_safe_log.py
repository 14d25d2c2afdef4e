"""A crash never leaves the event log behind the checkpoints (issue 16, item 2).

A FedAsync star checkpointing every version is SIGKILLed twice, at versions
drawn from a seeded generator, and resumed each time; the log must then hold
every version exactly once, and `summary.json` must agree with it.
"""

from __future__ import annotations

import json
import os
import random
import signal
from pathlib import Path

import pytest

from launcher.resume import cut_back_to_checkpoints
from launcher.testing import processes_mentioning, wait_until
from sims.results import read_events
from tests.launcher.test_resume import TOPOLOGY, reaped, version_reached
from tests.launcher.test_run import fedactors, launcher

MAX_VERSIONS = 120
KILLS = 2


def server_node_pid(run_dir: Path) -> int | None:
    """The live `node-0` process (the server's) of the run in `run_dir`."""
    for pid in processes_mentioning(str(run_dir)):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"--node-id" in cmdline and cmdline[cmdline.index(b"--node-id") + 1] == b"node-0":
            return pid
    return None


def run_killed_at(toml: Path, run_dir: Path, version: int, resume: bool) -> None:
    """Start (or resume) the run and SIGKILL the server's process once the log reaches `version`."""
    args = ("run", "--resume", str(run_dir)) if resume else ("run", str(toml), "--out", str(run_dir))
    with launcher(*args) as killed:
        wait_until(lambda: version_reached(run_dir, version), 120, f"version {version}")
        os.kill(wait_until(lambda: server_node_pid(run_dir), 10, "the server's process"), signal.SIGKILL)
        killed.communicate(timeout=60)
    assert killed.returncode == 1


@pytest.mark.slow
@pytest.mark.timeout(400)  # three runs over real processes on a busy 2-core machine
def test_after_kill_9_at_random_versions_and_resume_the_log_holds_every_version_once(tmp_path: Path) -> None:
    toml = tmp_path / "crash.toml"
    toml.write_text(TOPOLOGY.replace("max_versions = 300", f"max_versions = {MAX_VERSIONS}"))
    run_dir = tmp_path / "run"
    kill_at = sorted(random.Random(16).sample(range(10, MAX_VERSIONS - 30), KILLS))

    with reaped(run_dir):
        for i, version in enumerate(kill_at):
            run_killed_at(toml, run_dir, version, resume=i > 0)
        resumed = fedactors("run", "--resume", str(run_dir))

    assert resumed.returncode == 0, resumed.stderr
    events = read_events(run_dir / "events.jsonl")
    summary = json.loads((run_dir / "summary.json").read_text())
    made = [r["version"] for r in events if r["event"] == "model_updated"]
    applied = [r for r in events if r["event"] == "update_applied"]
    assert made == list(range(1, MAX_VERSIONS + 1))
    assert (summary["versions"], summary["updates_applied"], len(applied)) == (MAX_VERSIONS,) * 3
    assert [r["actor"] for r in events if r["event"] == "run_resumed"] == ["server"] * KILLS
    assert [r["version"] for r in events if r["event"] == "run_finished"] == [MAX_VERSIONS]


def line(actor: str, event: str, version: int) -> str:
    record = {"t": 0.0, "vt": 0.0, "node": "n", "actor": actor, "event": event, "version": version}
    return json.dumps(record) + "\n"


def test_resume_moves_each_actors_events_after_its_checkpoint_marker_aside(
    tmp_path: Path,
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(
        line("server", "checkpoint_started", 1)
        + line("server", "model_updated", 2)
        + line("server", "checkpoint_started", 2)
        + line("client-0", "task_trained", 2)
        + line("server", "update_applied", 2)
        + line("server", "model_updated", 3)
        + '{"t": 0.0, "vt": 0.0, "node": "n", "act'  # the launcher was killed mid-line
    )

    moved = cut_back_to_checkpoints(events, {"server": 2})

    kept = [(r["actor"], r["event"], r["version"]) for r in read_events(events)]
    discarded = [(r["event"], r["version"]) for r in read_events(tmp_path / "events.discarded.jsonl")]
    assert moved == 2
    assert kept == [
        ("server", "checkpoint_started", 1),
        ("server", "model_updated", 2),
        ("server", "checkpoint_started", 2),
        ("client-0", "task_trained", 2),
    ]
    assert discarded == [("update_applied", 2), ("model_updated", 3)]


def test_resume_keeps_every_event_of_an_actor_whose_marker_is_not_in_the_log(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text(line("server", "model_updated", 1) + line("server", "model_updated", 2))

    moved = cut_back_to_checkpoints(events, {"server": 2})

    assert moved == 0
    assert [r["version"] for r in read_events(events)] == [1, 2]
