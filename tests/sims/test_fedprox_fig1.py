"""The shipped FedProx Figure 1 file: Synthetic(1,1), 30 clients, 10 a round, E = 20,
90% stragglers drawn per task, and the global training loss recorded."""

from __future__ import annotations

from pathlib import Path

from actors.server.fedavg import FedAvgConfig
from sims.results import read_events
from sims.simulate import simulate
from topologies.load import load_topology
from topologies.specs.data import SyntheticDataSpec

FIG1 = Path(__file__).parents[2] / "topologies" / "examples" / "fedprox_fig1.toml"


def test_the_fedprox_figure_1_file_declares_the_papers_setting() -> None:
    spec = load_topology(FIG1)

    assert isinstance(spec.data, SyntheticDataSpec)
    assert (spec.data.alpha, spec.data.beta, spec.data.num_users) == (1.0, 1.0, 30)
    assert isinstance(spec.server, FedAvgConfig)
    assert (spec.server.clients_per_round, spec.server.stragglers, spec.server.eval_train) == (
        10,
        "partial",
        True,
    )
    assert (spec.client.epochs, spec.client.batch_size, spec.client.lr, spec.client.prox_mu) == (
        20,
        10,
        0.01,
        1.0,
    )
    assert spec.behaviour.compute.straggler_probability == 0.9
    assert spec.behaviour.compute.straggler_work == "uniform"


def test_two_rounds_of_figure_1_record_training_loss_and_stragglers_doing_part_of_e(tmp_path: Path) -> None:
    spec = load_topology(FIG1, ["stop.max_rounds=2"])

    assert simulate(spec, tmp_path) == "max_rounds"

    events = read_events(tmp_path / "events.jsonl")
    evaluated = [r for r in events if r["event"] == "evaluated"]
    assert [r["version"] for r in evaluated] == [0, 1, 2]
    assert all(r["train_loss"] > 0 for r in evaluated)
    trained = [r for r in events if r["event"] == "task_trained"]
    assert len(trained) == 20  # every sampled client's partial work is in: none is late
    assert all(r["compute_s"] <= 10.001 for r in trained)
    stragglers = [r for r in trained if r["straggler"]]
    assert 10 <= len(stragglers) <= 20
    assert all(r["epochs"] is None or 1 <= r["epochs"] <= 20 for r in stragglers)
    assert [r for r in events if r["event"] == "update_dropped"] == []


def test_fedavg_in_figure_1_drops_the_stragglers_and_cancels_their_work(tmp_path: Path) -> None:
    spec = load_topology(FIG1, ["stop.max_rounds=2", "server.stragglers=drop", "client.prox_mu=0"])

    simulate(spec, tmp_path)

    events = read_events(tmp_path / "events.jsonl")
    cancelled = {r["actor"] for r in events if r["event"] == "task_cancelled"}
    started = [r for r in events if r["event"] == "round_started"]
    applied = [r for r in events if r["event"] == "update_applied"]
    assert cancelled  # the stragglers that could not finish E epochs by the deadline
    assert len(applied) + sum(1 for r in events if r["event"] == "task_cancelled") == sum(
        len(r["clients"]) for r in started
    )
