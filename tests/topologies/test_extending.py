"""A user's own aggregator, staleness function and trainer, in a rules.py next to the topology
file, run end to end through the CLI in sim mode with no PYTHONPATH (docs/extending.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from launcher import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "topologies" / "examples" / "custom"


@pytest.fixture
def study(tmp_path: Path) -> Path:
    """The example folder copied elsewhere, as a user's own study folder."""
    folder = tmp_path / "study"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "elsewhere").mkdir()
    return folder


def _events(run_dir: Path, event: str) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if r["event"] == event]


@pytest.mark.slow
def test_a_custom_staleness_function_next_to_the_file_sets_every_mixing_weight(study: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = study.parent / "run"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "launcher.cli",
            "run",
            str(study / "fedasync_staleness.toml"),
            "--out",
            str(out),
        ],
        cwd=study.parent / "elsewhere",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    applied = _events(out, "update_applied")
    assert len(applied) == 40
    assert all(e["alpha"] == 0.6 * 0.5 ** (e["staleness"] // 4) for e in applied)
    assert max(e["staleness"] for e in applied) >= 8  # the function's later steps were used


def test_a_custom_aggregator_and_trainer_next_to_the_file_run_in_sim_mode(
    study: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(study.parent / "elsewhere")
    file = str(study / "fedavg_geomedian.toml")

    custom = cli.main(["run", file, "--out", "geomedian"])
    mean = cli.main(["run", file, "--out", "mean", "--set", 'server.aggregator={ kind = "weighted_mean" }'])

    assert (custom, mean) == (0, 0), capsys.readouterr().err
    applied = _events(Path("geomedian"), "update_applied")
    assert len(applied) == 5 * 6
    assert {e["num_samples"] for e in applied} == {32}  # the trainer's sample budget
    accuracies = [[e["accuracy"] for e in _events(Path(d), "evaluated")] for d in ("geomedian", "mean")]
    assert len(accuracies[0]) == len(accuracies[1]) == 6
    assert accuracies[0] != accuracies[1]  # the median, not the mean, made the models


def test_a_custom_server_algorithm_next_to_the_file_applies_every_update(
    study: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(study.parent / "elsewhere")

    code = cli.main(["run", str(study / "delta_sgd_server.toml"), "--out", "run"])

    assert code == 0, capsys.readouterr().err
    applied = _events(Path("run"), "update_applied")
    versions = [e["version"] for e in _events(Path("run"), "model_updated")]
    assert len(applied) == 40
    assert all(e["lr"] == 0.8 / (e["staleness"] + 1) for e in applied)
    assert versions == list(range(1, 41))


def test_the_geometric_median_resists_an_outlier_and_keeps_identical_updates() -> None:
    rules = _load_rules()
    same = {"w": torch.tensor([1.0, 2.0])}
    cluster = [
        {"w": torch.tensor([0.0, 0.0])},
        {"w": torch.tensor([0.1, 0.0])},
        {"w": torch.tensor([0.0, 0.1])},
    ]
    outlier = {"w": torch.tensor([100.0, 100.0])}

    kept = rules.GeoMedian().aggregate([same, same, same], [1.0, 2.0, 3.0])
    robust = rules.GeoMedian(iterations=100).aggregate([*cluster, outlier], [1.0] * 4)

    assert torch.equal(kept["w"], same["w"])
    assert robust["w"].norm() < 0.2  # the mean would be at norm 35


def _load_rules() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("example_rules", EXAMPLE / "rules.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
