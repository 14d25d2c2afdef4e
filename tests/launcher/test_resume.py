"""`fedactors run --resume`: a run whose server was killed goes on from its checkpoint.

The end-to-end test runs a FedAsync digits star (10 clients, 2 node processes,
a checkpoint every version) three times over real processes: once without
interruption, once with the server's process SIGKILLed mid-run, and then
resumed. The resumed run must continue at exactly the checkpointed version + 1,
make every later version once, and end as accurate as the uninterrupted one.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from actors.server.checkpoint import read_checkpoint, write_checkpoint
from launcher.cli import main
from launcher.processes import NODE_PID_MARKER
from launcher.resume import prepare_resume
from launcher.run import prepare_run_dir
from launcher.testing import processes_mentioning, wait_until
from sims.build import NodeBuilder
from sims.results import read_events
from tests.launcher.test_run import fedactors, launcher
from topologies.load import load_topology
from topologies.spec import RunSpec

MAX_VERSIONS = 300
KILL_AT = 100  # versions made before the server's process is killed
TARGET_ACCURACY = 0.9
TOPOLOGY = f"""
name = "resume-digits"
seed = 0
[graph]
template = "star"
clients = 10
[server]
algorithm = "fedasync"
alpha = 0.6
staleness = {{ kind = "polynomial", a = 0.5 }}
eval_every = 10
[client]
epochs = 2
batch_size = 16
lr = 0.05
momentum = 0.9
[model]
kind = "mlp"
hidden = [64]
[data]
kind = "digits"
partition = {{ kind = "dirichlet", alpha = 0.5 }}
[stop]
max_versions = {MAX_VERSIONS}
[placement]
processes = 2
[checkpoint]
every_versions = 1
"""


@contextlib.contextmanager
def reaped(run_dir: Path) -> Iterator[None]:
    """On the way out, SIGKILL whatever process of the run in `run_dir` is still alive."""
    try:
        yield
    finally:
        for pid in processes_mentioning(str(run_dir)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def version_reached(run_dir: Path, least: int) -> int | None:
    """The latest version in the run's event log once it is `least` or more."""
    events = run_dir / "events.jsonl"
    records = read_events(events) if events.exists() else []
    latest = max((r["version"] for r in records if r["event"] == "model_updated"), default=0)
    return latest if latest >= least else None


def node_pid(run_dir: Path, node_id: str) -> int | None:
    """The pid a node process announced on the first line of its log."""
    log = run_dir / "logs" / f"{node_id}.log"
    first = log.read_text().partition("\n")[0] if log.exists() else ""
    return int(first.removeprefix(NODE_PID_MARKER)) if first.startswith(NODE_PID_MARKER) else None


def final_accuracy(run_dir: Path) -> float:
    evaluated = [r for r in read_events(run_dir / "events.jsonl") if r["event"] == "evaluated"]
    return float(evaluated[-1]["accuracy"])


@pytest.mark.slow
@pytest.mark.timeout(300)  # three runs over real processes; the 2-core CI machine may be busy
def test_a_server_killed_mid_run_resumes_at_its_checkpoint_and_ends_as_accurate_as_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    (tmp_path / "resume.toml").write_text(TOPOLOGY)
    whole, cut = tmp_path / "whole", tmp_path / "cut"

    with reaped(whole), reaped(cut):
        uninterrupted = fedactors("run", str(tmp_path / "resume.toml"), "--out", str(whole))
        with launcher("run", str(tmp_path / "resume.toml"), "--out", str(cut)) as killed:
            seen = wait_until(lambda: version_reached(cut, KILL_AT), 120, f"version {KILL_AT}")
            os.kill(wait_until(lambda: node_pid(cut, "node-0"), 10, "node-0's pid"), signal.SIGKILL)
            killed.communicate(timeout=60)
        checkpointed = read_checkpoint(cut / "checkpoints" / "server.ckpt")["version"]
        resumed = fedactors("run", "--resume", str(cut))

    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert killed.returncode == 1  # the server's node died: the run could not go on
    assert resumed.returncode == 0, resumed.stderr
    events = read_events(cut / "events.jsonl")
    (resume_at,) = [i for i, r in enumerate(events) if r["event"] == "run_resumed"]
    assert events[resume_at]["actor"] == "server"
    assert events[resume_at]["version"] == checkpointed
    assert checkpointed >= seen - 1  # every version is checkpointed before the next is made
    after = [r["version"] for r in events[resume_at:] if r["event"] == "model_updated"]
    assert after == list(range(checkpointed + 1, MAX_VERSIONS + 1))
    assert [r["version"] for r in events if r["event"] == "run_finished"] == [MAX_VERSIONS]
    assert final_accuracy(whole) >= TARGET_ACCURACY
    assert final_accuracy(cut) >= TARGET_ACCURACY
    assert final_accuracy(cut) >= final_accuracy(whole) - 0.02
    assert not processes_mentioning(str(cut))


def load_topology_json(run_dir: Path) -> RunSpec:
    return RunSpec.model_validate_json((run_dir / "topology.json").read_text())


def prepared_run(tmp_path: Path) -> Path:
    (tmp_path / "resume.toml").write_text(TOPOLOGY)
    run_dir = tmp_path / "run"
    prepare_run_dir(load_topology(tmp_path / "resume.toml"), tmp_path / "resume.toml", run_dir)
    return run_dir


def test_the_launcher_writes_the_absolute_checkpoint_directory_the_nodes_use(tmp_path: Path) -> None:
    (tmp_path / "resume.toml").write_text(TOPOLOGY)
    spec = load_topology(tmp_path / "resume.toml")
    run_dir = tmp_path / "run"

    resolved = prepare_run_dir(spec, tmp_path / "resume.toml", run_dir)

    checkpointer = NodeBuilder(resolved).checkpointer("server")
    simulated = NodeBuilder(spec.model_copy(update={"mode": "sim"}))
    assert checkpointer is not None
    assert load_topology_json(run_dir).checkpoint == resolved.checkpoint
    assert checkpointer.path == run_dir.resolve() / "checkpoints" / "server.ckpt"
    assert (run_dir / "checkpoints").is_dir()
    assert simulated.checkpointer("server") is None


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        ("nothing", "it has no topology.json; give the directory `fedactors run` wrote"),
        ("no checkpoint", "no checkpoint in {run}/checkpoints: the run ended before its first one"),
        ("corrupt", "checkpoint {run}/checkpoints/server.ckpt: checksum mismatch: the file is corrupt"),
        ("finished", "it finished already (max_versions at version 300)"),
    ],
)
def test_resume_refuses_a_directory_it_cannot_continue_before_any_process_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arrange: str, message: str
) -> None:
    run_dir = tmp_path / "run"
    if arrange == "nothing":
        run_dir.mkdir()
    else:
        run_dir = prepared_run(tmp_path)
    if arrange in ("corrupt", "finished"):
        write_checkpoint(run_dir / "checkpoints" / "server.ckpt", {"version": 7})
    if arrange == "corrupt":
        data = bytearray((run_dir / "checkpoints" / "server.ckpt").read_bytes())
        data[-6] ^= 0xFF
        (run_dir / "checkpoints" / "server.ckpt").write_bytes(bytes(data))
    if arrange == "finished":
        (run_dir / "events.jsonl").write_text(
            '{"t":1.0,"vt":1.0,"node":"node-0","actor":"server","event":"run_finished",'
            '"version":300,"reason":"max_versions"}\n'
        )

    code = main(["run", "--resume", str(run_dir)])

    assert code == 2
    assert message.format(run=run_dir.resolve()) in capsys.readouterr().err
    assert not (run_dir / "logs").exists() or not any((run_dir / "logs").iterdir())


def test_resume_takes_no_file_and_no_overrides(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(tmp_path / "a.toml"), "--resume", str(tmp_path)])

    assert code == 2
    assert "--resume continues the run as its directory declares it" in capsys.readouterr().err


class StoppedClock:
    def now(self) -> float:
        return 0.0


def fresh_server_state(run_dir: Path) -> dict[str, Any]:
    """The state a just-built server of the run would checkpoint."""
    [(_, server)] = NodeBuilder(load_topology_json(run_dir)).build(["server"])
    server.clock = StoppedClock()  # type: ignore[assignment]  # state() reads only now()
    return server.state()  # type: ignore[attr-defined, no-any-return]


def corrupted(state: dict[str, Any], how: str) -> dict[str, Any]:
    params = dict(state["params"])
    first = sorted(params)[0]
    match how:
        case "another class":
            return {**state, "class": "FedBuffServer"}
        case "no params":
            return {k: v for k, v in state.items() if k != "params"}
        case "bad rng":
            return {**state, "rng": [3, [1, 2], None]}
        case "other shapes":
            return {**state, "params": {**params, first: torch.zeros(3, 3)}}
        case "other dtypes":
            return {**state, "params": {**params, first: params[first].double()}}
        case "negative version":
            return {**state, "version": -5}
        case "negative task id":
            return {**state, "next_task_id": -100}
        case "negative drops":
            return {**state, "dropped": -1}
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("another class", "written by a FedBuffServer, not a FedAsyncServer (field 'class')"),
        ("no params", "field 'params' is missing"),
        ("bad rng", "field 'rng' is not a random.Random state"),
        ("other shapes", "has shape (3, 3), expected (64,)"),
        ("other dtypes", "has other dtypes than the model for"),
        ("negative version", "field 'version' must be an integer >= 0, got -5"),
        ("negative task id", "field 'next_task_id' must be an integer >= 1, got -100"),
        ("negative drops", "field 'dropped' must be an integer >= 0, got -1"),
    ],
)
def test_resume_refuses_a_well_framed_checkpoint_whose_state_does_not_fit_before_any_process_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, message: str
) -> None:
    run_dir = prepared_run(tmp_path)
    path = run_dir / "checkpoints" / "server.ckpt"
    write_checkpoint(path, corrupted(fresh_server_state(run_dir), how))

    code = main(["run", "--resume", str(run_dir)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"checkpoint {path.resolve()}: does not fit this FedAsyncServer: " in err
    assert message in err
    assert not (run_dir / "logs").exists() or not any((run_dir / "logs").iterdir())


def test_a_checkpoint_that_fits_passes_the_checks_before_start(tmp_path: Path) -> None:
    run_dir = prepared_run(tmp_path)
    write_checkpoint(run_dir / "checkpoints" / "server.ckpt", fresh_server_state(run_dir))

    resumed = prepare_resume(run_dir)

    assert resumed.checkpoint.resume
