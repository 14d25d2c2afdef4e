"""The tidy tables of a run directory: evaluations.csv, updates.csv, clients.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from launcher.run import run_sim
from sims.tables import clients, evaluations, updates
from topologies.load import parse_topology

RECORDS = [
    {"t": 100.0, "vt": 0.0, "actor": "server", "event": "evaluated", "version": 0,
     "accuracy": 0.1, "loss": 2.3},
    {"t": 100.5, "vt": 1.5, "actor": "server", "event": "update_applied", "client": "c1", "version": 0,
     "staleness": 0, "num_samples": 10, "compute_s": 1.0, "bytes": 400, "alpha": 0.5},
    {"t": 101.0, "vt": 2.0, "actor": "server", "event": "update_applied", "client": "c1", "version": 1,
     "staleness": 2, "num_samples": 10, "compute_s": 3.0, "bytes": 400, "alpha": 0.25},
    {"t": 101.5, "vt": 3.0, "actor": "server", "event": "update_dropped", "client": "c2", "version": 5,
     "base_version": 1, "reason": "too_stale"},
    {"t": 102.0, "vt": 4.0, "actor": "server", "event": "evaluated", "version": 2, "accuracy": 0.5,
     "loss": 1.2, "train_loss": 1.1},
]  # fmt: skip

SMALL = """
name = "tables"
seed = 3
mode = "sim"
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedasync"
alpha = 0.5
max_staleness = 1
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
[stop]
max_versions = 20
[sim]
workers = 1
"""


def read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def test_evaluation_rows_carry_wall_seconds_since_the_first_event_and_the_train_loss_when_recorded() -> None:
    rows = evaluations(RECORDS)

    assert [(r["version"], r["vt"], r["t"], r["accuracy"], r["train_loss"]) for r in rows] == [
        (0, 0.0, 0.0, 0.1, None),
        (2, 4.0, 2.0, 0.5, 1.1),
    ]


def test_update_rows_are_one_per_applied_or_dropped_update_with_weight_and_staleness() -> None:
    rows = updates(RECORDS)

    assert [(r["client"], r["status"], r["staleness"], r["weight"], r["reason"]) for r in rows] == [
        ("c1", "applied", 0, 0.5, None),
        ("c1", "applied", 2, 0.25, None),
        ("c2", "dropped", 4, None, "too_stale"),  # version 5 - base version 1
    ]


def test_client_rows_count_participation_mean_staleness_and_drops() -> None:
    rows = clients(updates(RECORDS))

    assert [tuple(r.values()) for r in rows] == [
        ("c1", 2, 0, 1.0, 800, 2.0),
        ("c2", 0, 1, None, 0, None),
    ]


def test_a_simulated_run_writes_tables_that_agree_with_its_summary(tmp_path: Path) -> None:
    spec = parse_topology(SMALL)

    result = run_sim(spec, None, tmp_path)

    summary = json.loads((tmp_path / "summary.json").read_text())
    update_rows = read_csv(tmp_path / "updates.csv")
    assert summary["updates_dropped"] > 0  # max_staleness = 1 drops some
    assert len(update_rows) == summary["updates_applied"] + summary["updates_dropped"]
    assert [r["status"] for r in update_rows].count("dropped") == summary["updates_dropped"]
    evals = read_csv(tmp_path / "evaluations.csv")
    assert [int(r["version"]) for r in evals] == [0, 5, 10, 15, 20]
    assert float(evals[-1]["accuracy"]) == result.summary["final_accuracy"]
    per_client = read_csv(tmp_path / "clients.csv")
    assert {r["client"]: int(r["applied"]) for r in per_client} == summary["participation"]
    assert sum(int(r["dropped"]) for r in per_client) == summary["updates_dropped"]
