"""Asynchronous pairwise gossip: exchanges conserve the sum; a ring of peers converges."""

from __future__ import annotations

from pathlib import Path

import pytest

from sims.results import read_events
from sims.simulate import simulate
from topologies.errors import TopologyError
from topologies.load import parse_topology

PAIRWISE = """
name = "pairwise-test"
seed = 1
mode = "sim"
[graph]
template = "ring"
peers = 6
[peer]
algorithm = "pairwise"
eval_every_s = 20
[client]
steps = 5
batch_size = 16
lr = 0.1
[model]
kind = "mlp"
hidden = [32]
[data]
kind = "digits"
partition = { kind = "iid" }
[behaviour.compute]
time = { kind = "uniform", low_s = 0.5, high_s = 1.5 }
[stop]
max_rounds = 150
"""


def test_pairwise_gossip_on_a_ring_brings_the_peers_together_and_the_average_learns(tmp_path: Path) -> None:
    assert simulate(parse_topology(PAIRWISE), tmp_path) == "max_rounds"
    events = read_events(tmp_path / "events.jsonl")
    consensus = [r for r in events if r["event"] == "consensus"]
    assert consensus[0]["distance"] > 1.0  # independent initial models
    assert consensus[-1]["relative"] < 0.05
    accuracy = [r["accuracy"] for r in events if r["event"] == "evaluated"]
    assert accuracy[-1] >= 0.85
    exchanges = [r for r in events if r["event"] == "gossip_exchanged"]
    ring = {f"peer-{i:03d}": {f"peer-{(i - 1) % 6:03d}", f"peer-{(i + 1) % 6:03d}"} for i in range(6)}
    assert all(r["neighbour"] in ring[r["actor"]] for r in exchanges)
    # Every peer chose both its neighbours (its own seeded draws).
    assert all({r["neighbour"] for r in exchanges if r["actor"] == p} == ring[p] for p in ring)


def test_two_runs_with_one_seed_exchange_with_the_same_neighbours_in_the_same_order(tmp_path: Path) -> None:
    short = PAIRWISE.replace("max_rounds = 150", "max_rounds = 10")
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        simulate(parse_topology(short), tmp_path / name)
        runs.append(
            [(r["actor"], r["neighbour"], r["vt"]) for r in read_events(tmp_path / name / "events.jsonl")
             if r["event"] == "gossip_exchanged"]
        )  # fmt: skip
    assert runs[0] == runs[1]
    assert len(runs[0]) >= 60


def test_pairwise_gossip_in_a_simulation_needs_a_compute_time_model() -> None:
    without = PAIRWISE.replace('time = { kind = "uniform", low_s = 0.5, high_s = 1.5 }', "")
    with pytest.raises(TopologyError, match=r"pairwise gossip in mode 'sim' needs behaviour.compute.time"):
        parse_topology(without)
