"""`[report] tensorboard = true`: a run's TensorBoard event files hold its evaluations and staleness."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from launcher.run import run_sim
from topologies.errors import TopologyError
from topologies.load import parse_topology

FEDASYNC = """
name = "tb"
seed = 3
mode = "sim"
[graph]
template = "star"
clients = 4
[server]
algorithm = "fedasync"
alpha = 0.5
eval_every = 3
eval_train = true
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
[stop]
max_versions = 9
[report]
tensorboard = true
"""


def _f32(text: str) -> float:
    return float(np.float32(float(text)))  # TensorBoard keeps scalars as float32


def _scalars(folder: Path) -> dict[str, list[tuple[int, float, float]]]:
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    events = accumulator.EventAccumulator(str(folder))
    events.Reload()
    tags = events.Tags()["scalars"]
    return {tag: [(e.step, e.value, e.wall_time) for e in events.Scalars(tag)] for tag in tags}


def test_a_simulated_run_with_tensorboard_writes_its_evaluations_and_staleness_as_scalars(
    tmp_path: Path,
) -> None:
    pytest.importorskip("tensorboard")
    run_sim(parse_topology(FEDASYNC), None, tmp_path)

    scalars = _scalars(tmp_path / "tensorboard")
    with (tmp_path / "evaluations.csv").open() as f:
        evals = list(csv.DictReader(f))
    with (tmp_path / "updates.csv").open() as f:
        applied = [r for r in csv.DictReader(f) if r["status"] == "applied"]
    assert [int(r["version"]) for r in evals] == [0, 3, 6, 9]
    for key in ("accuracy", "loss", "train_loss"):
        by_version = [(int(r["version"]), _f32(r[key]), float(r["vt"])) for r in evals]
        assert scalars[key] == by_version
        assert scalars[f"by_time/{key}"] == [(round(vt * 1000), value, vt) for _, value, vt in by_version]
    # FedAsync applies one update a version: each version's mean staleness is that update's
    staleness = [(int(r["version"]), float(r["staleness"]), float(r["vt"])) for r in applied]
    assert scalars["staleness"] == staleness
    assert len(applied) == 9
    assert sorted(scalars) == sorted(
        ["accuracy", "loss", "train_loss", "staleness"]
        + [f"by_time/{k}" for k in ("accuracy", "loss", "train_loss", "staleness")]
    )


def test_tensorboard_is_refused_with_the_extra_to_install_when_the_package_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "tensorboard" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)

    with pytest.raises(TopologyError, match=r"report\.tensorboard.*pip install 'fedactors\[tensorboard\]'"):
        parse_topology(FEDASYNC)
