"""`fedactors run` end to end: real node processes over ZeroMQ, from the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "topologies" / "examples"


def fedactors(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes whose command line contains `text`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmdline and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


@contextmanager
def launcher(*args: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", *args],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes; the 2-core CI machine may be busy
@pytest.mark.parametrize("example", ["fedasync", "fedavg", "fedbuff"])
def test_each_star_example_reaches_90_percent_over_three_node_processes(tmp_path: Path, example: str) -> None:
    out = tmp_path / "run"

    result = fedactors("run", str(EXAMPLES / f"{example}.toml"), "--out", str(out))

    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finish_reason"] == "target_accuracy"
    assert summary["final_accuracy"] >= 0.9
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert {e["node"] for e in events} >= {"node-0", "node-1", "node-2"}  # three node processes reported
    assert {e["event"] for e in events} >= {"client_joined", "task_trained", "update_applied", "evaluated"}
    assert sorted(p.name for p in out.iterdir()) == [
        "accuracy.png",
        "checkpoints",
        "clients.csv",
        "evaluations.csv",
        "events.jsonl",
        "logs",
        "summary.json",
        "topology.json",
        "topology.toml",
        "updates.csv",
    ]
    assert not processes_mentioning(str(out))


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes; the 2-core CI machine may be busy
def test_ctrl_c_stops_every_node_process_and_still_writes_the_results(tmp_path: Path) -> None:
    spec = (EXAMPLES / "fedasync.toml").read_text().replace("target_accuracy = 0.9", "target_accuracy = 1.0")
    spec = spec.replace("max_versions = 2000", "max_versions = 1000000").replace("max_time_s = 170", "")
    (tmp_path / "long.toml").write_text(spec)
    out = tmp_path / "run"

    with launcher("run", str(tmp_path / "long.toml"), "--out", str(out)) as proc:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith("run started"):
                break
        assert processes_mentioning(str(out))  # the node processes are running
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)

    assert proc.returncode == 130
    assert not processes_mentioning(str(out))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] is False
    assert summary["finish_reason"] == "interrupted"
    assert (out / "accuracy.png").exists()


BAD_FILES = {
    "unknown key": ("[client]\nlr = 0.1\n", "[client]\nlr = 0.1\nepoch = 2\n", "client.epoch: unknown key"),
    "negative learning rate": (
        "lr = 0.05",
        "lr = -0.05",
        "client.lr: Input should be greater than 0 (got -0.05)",
    ),
    "zero clients": ("clients = 20", "clients = 0", "graph.clients: Input should be greater than 0 (got 0)"),
    "missing import": (
        '[model]\nkind = "mlp"\nhidden = [64]',
        '[model]\nkind = "custom"\npath = "no_such_module:build"',
        "model.path: import path 'no_such_module:build': cannot import module 'no_such_module'",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_naming_the_field_before_any_process_starts(tmp_path: Path, case: str) -> None:
    old, new, message = BAD_FILES[case]
    text = (EXAMPLES / "fedasync.toml").read_text()
    if case == "unknown key":
        text = text.replace("[client]\n", "[client]\nepoch = 2\n")
    else:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "bad.toml").write_text(text)
    out = tmp_path / "run"

    result = fedactors("run", str(tmp_path / "bad.toml"), "--out", str(out), timeout=60)

    assert result.returncode == 2
    assert message in result.stderr
    assert f"{tmp_path / 'bad.toml'}:" in result.stderr  # names the file, and the line where it can
    assert not out.exists()  # refused before anything started


def test_validate_accepts_every_example() -> None:
    for example in sorted(EXAMPLES.glob("*.toml")):
        result = fedactors("validate", str(example), timeout=60)

        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{example}: ok")
