"""Studies from the CLI: sweeps, plots, and one file in both modes."""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
name = "small"
seed = 1
mode = "sim"
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedasync"
alpha = 0.5
task_timeout_s = 20
eval_every = 5
[client]
epochs = 1
batch_size = 16
lr = 0.05
[model]
kind = "logreg"
[data]
kind = "digits"
[behaviour.compute]
time = { kind = "lognormal", median_s = 1.0, sigma = 0.5 }
slow_fraction = 0.5
slow_factor = 3
[behaviour.availability]
drop_probability = 0.1
[behaviour.links.uplink]
latency = { kind = "constant", seconds = 0.1 }
[stop]
max_versions = 30
[placement]
processes = 3
time_scale = 0.01
"""


def fedactors(*args: str, cwd: Path = ROOT, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "launcher.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_sweep_runs_every_point_and_writes_one_table_and_one_figure(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    out = tmp_path / "sweep"

    result = fedactors(
        "sweep",
        str(tmp_path / "small.toml"),
        "--out",
        str(out),
        "--set",
        "server.alpha=0.3,0.9",
        "--set",
        "behaviour.compute.slow_fraction=0,0.5",
        "--jobs",
        "2",
    )

    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((out / "sweep.csv").read_text().splitlines()))
    assert [r["run"] for r in rows] == [
        "alpha=0.3,slow_fraction=0",
        "alpha=0.3,slow_fraction=0.5",
        "alpha=0.9,slow_fraction=0",
        "alpha=0.9,slow_fraction=0.5",
    ]
    assert {r["finish_reason"] for r in rows} == {"max_versions"}
    assert (out / "sweep.md").read_text().startswith("| run | finish_reason |")
    assert (out / "sweep.png").stat().st_size > 10_000
    resolved = json.loads(
        (out / "03-alpha=0.9_slow_fraction=0" / "topology.json").read_text()
    )
    assert resolved["server"]["alpha"] == 0.9


def test_a_sweep_with_an_invalid_point_runs_nothing(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    out = tmp_path / "sweep"

    result = fedactors(
        "sweep", str(tmp_path / "small.toml"), "--out", str(out), "--set", "server.alpha=0.5,1.5"
    )

    assert result.returncode == 2
    assert "server.alpha: Input should be less than or equal to 1 (got 1.5)" in result.stderr
    assert not out.exists()


def test_plot_overlays_run_directories_in_one_png(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    for seed in ("1", "2"):
        assert (
            fedactors(
                "run", str(tmp_path / "small.toml"), "--set", f"seed={seed}", "--out", str(tmp_path / seed)
            ).returncode
            == 0
        )

    result = fedactors("plot", str(tmp_path / "1"), str(tmp_path / "2"), "--out", str(tmp_path / "cmp.png"))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cmp.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes; the 2-core CI machine may be busy
def test_the_same_file_runs_in_local_mode_over_processes_with_the_same_outputs(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)

    sim = fedactors("run", str(tmp_path / "small.toml"), "--out", str(tmp_path / "sim"))
    local = fedactors(
        "run", str(tmp_path / "small.toml"), "--mode", "local", "--out", str(tmp_path / "local")
    )

    assert sim.returncode == 0, sim.stderr
    assert local.returncode == 0, local.stderr
    sim_summary = json.loads((tmp_path / "sim" / "summary.json").read_text())
    local_summary = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert sim_summary.keys() == local_summary.keys()
    assert local_summary["versions"] == sim_summary["versions"] == 30
    local_events = [
        json.loads(line) for line in (tmp_path / "local" / "events.jsonl").read_text().splitlines()
    ]
    assert {e["node"] for e in local_events} >= {"node-0", "node-1", "node-2"}
    assert {"task_dropped", "update_applied", "evaluated"} <= {e["event"] for e in local_events}


def test_a_sweep_over_seeds_gives_each_point_the_mean_and_t_interval_of_its_seeds(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL.replace("[stop]", "[stop]\ntarget_accuracy = 0.8"))
    out = tmp_path / "sweep"

    result = fedactors(
        "sweep", str(tmp_path / "small.toml"), "--out", str(out), "--seeds", "0-2",
        "--set", "server.alpha=0.3,0.9", "--jobs", "2",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    per_run = list(csv.DictReader((out / "seeds.csv").read_text().splitlines()))
    assert [(r["run"], r["seed"]) for r in per_run] == [
        (a, s) for a in ("alpha=0.3", "alpha=0.9") for s in ("0", "1", "2")
    ]
    points = list(csv.DictReader((out / "sweep.csv").read_text().splitlines()))
    for point in points:
        finals = [float(r["final_accuracy"]) for r in per_run if r["run"] == point["run"]]
        mean = sum(finals) / 3
        half = 4.302652729 * statistics.stdev(finals) / 3**0.5  # t(0.975, 2)
        assert point["seeds"] == "3"
        assert float(point["final_accuracy_mean"]) == pytest.approx(mean)
        assert float(point["final_accuracy_ci95_high"]) == pytest.approx(mean + half)
        reached = [r for r in per_run if r["run"] == point["run"] and r["sim_time_to_target_s"]]
        assert int(point["target_reached"]) == len(reached)
    paired = list(csv.DictReader((out / "paired.csv").read_text().splitlines()))
    assert [(p["run"], p["against"], p["final_accuracy_pairs"]) for p in paired] == [
        ("alpha=0.9", "alpha=0.3", "3")
    ]
    assert "± " in (out / "sweep.md").read_text()
    assert (out / "sweep.png").stat().st_size > 10_000
    assert (out / "01-alpha=0.3" / "seed-2" / "updates.csv").exists()


def test_run_with_seeds_runs_the_file_once_per_seed_with_its_overrides(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    out = tmp_path / "seeds"

    result = fedactors(
        "run", str(tmp_path / "small.toml"), "--seeds", "3,5", "--set", "stop.max_versions=10",
        "--out", str(out),
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    (point,) = csv.DictReader((out / "sweep.csv").read_text().splitlines())
    assert (point["run"], point["seeds"], point["updates_applied_mean"]) == ("base", "2", "10.0")
    resolved = [json.loads((out / "01-base" / f"seed-{s}" / "topology.json").read_text()) for s in (3, 5)]
    assert [(r["seed"], r["stop"]["max_versions"]) for r in resolved] == [(3, 10), (5, 10)]
