"""HierFAVG edge schedulers: exact equivalence with FedAvg, and the κ1/κ2 schedule."""

from __future__ import annotations

from pathlib import Path

import torch

from actors.scheduler import HierFavgScheduler
from actors.server import FedAvgServer
from tests.sims.built_run import run_and_keep

COMMON = """
name = "hier-test"
seed = 3
mode = "sim"
[client]
epochs = 1
batch_size = 16
lr = 0.05
momentum = 0.9
[model]
kind = "mlp"
hidden = [16]
[data]
kind = "digits"
partition = { kind = "dirichlet", alpha = 0.5 }
[stop]
max_rounds = 3
"""

STAR = (
    COMMON
    + """
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedavg"
"""
)

ONE_EDGE = (
    COMMON
    + """
[graph]
template = "hierarchy"
groups = [6]
[server]
algorithm = "fedavg"
[scheduler]
mode = "hierfavg"
kappa1 = 1
kappa2 = 1
"""
)


def test_hierfavg_with_one_scheduler_and_kappas_of_one_gives_exactly_fedavgs_global_model(
    tmp_path: Path,
) -> None:
    star, star_events = run_and_keep(STAR, tmp_path / "star")
    hier, hier_events = run_and_keep(ONE_EDGE, tmp_path / "hier")
    fedavg, via_edge = star["server"], hier["server"]
    assert isinstance(fedavg, FedAvgServer)
    assert isinstance(via_edge, FedAvgServer)
    assert fedavg.version == via_edge.version == 3
    for key, value in fedavg.params.items():
        assert torch.equal(value, via_edge.params[key]), key
    accuracy = [r["accuracy"] for r in star_events if r["event"] == "evaluated"]
    assert accuracy == [r["accuracy"] for r in hier_events if r["event"] == "evaluated"]
    assert len(accuracy) == 4  # versions 0..3


KAPPAS = (
    COMMON.replace("max_rounds = 3", "max_rounds = 2")
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 6]
[server]
algorithm = "fedavg"
[scheduler]
mode = "hierfavg"
kappa1 = 3
kappa2 = 2
"""
)


def test_each_report_is_kappa2_edge_rounds_of_kappa1_local_rounds_each(tmp_path: Path) -> None:
    actors, events = run_and_keep(KAPPAS, tmp_path / "k")
    edges = [a for a in actors.values() if isinstance(a, HierFavgScheduler)]
    assert [len(e.group.clients) for e in edges] == [3, 3]
    # 2 global rounds x κ2 = 2 edge rounds each
    assert [e.group.version for e in edges] == [4, 4]
    trained = [r for r in events if r["event"] == "task_trained"]
    assert len(trained) == 2 * 2 * 6  # every client trains once per edge round
    assert {r["rounds"] for r in trained} == {3}  # κ1 local rounds per task
    server_updates = [r for r in events if r["event"] == "update_applied" and r["actor"] == "server"]
    assert sorted(r["client"] for r in server_updates) == ["sched-0", "sched-0", "sched-1", "sched-1"]
    # The server weighs each edge by the samples of the clients beneath it.
    samples = {e.name: sum(e.group.clients.values()) for e in edges}
    assert {r["client"]: r["num_samples"] for r in server_updates} == samples
