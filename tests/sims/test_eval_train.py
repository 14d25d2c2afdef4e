"""`[server] eval_train`: the global model's training loss, checked against a numpy replay."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from actors.server import FedAvgServer
from sims.build import NodeBuilder, derived_seed
from sims.plots import Run, plot_runs
from sims.results import summarize
from tests.sims.built_run import run_and_keep
from topologies.load import parse_topology

STAR = """
name = "eval-train"
seed = 4
mode = "sim"
[graph]
template = "star"
clients = 4
[server]
algorithm = "fedavg"
eval_train = true
[client]
epochs = 1
batch_size = 16
lr = 0.1
[model]
kind = "mlp"
hidden = []
[data]
kind = "digits"
partition = { kind = "dirichlet", alpha = 0.5 }
[stop]
max_rounds = 2
"""


def cross_entropy(weights: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """Mean softmax cross-entropy of the linear model (Flatten, Linear) in float64 numpy."""
    w, b = weights["1.weight"].double().numpy(), weights["1.bias"].double().numpy()
    logits = x.reshape(len(x), -1).double().numpy() @ w.T + b
    top = logits.max(axis=1, keepdims=True)
    log_norm = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    return float(np.mean(log_norm - logits[np.arange(len(y)), y.numpy()]))


def union_of_training_data(text: str) -> tuple[torch.Tensor, torch.Tensor]:
    data = NodeBuilder(parse_topology(text)).data
    return torch.cat([c.x for c in data.clients]), torch.cat([c.y for c in data.clients])


def test_each_evaluation_records_the_global_models_loss_on_all_the_clients_training_data(
    tmp_path: Path,
) -> None:
    actors, events = run_and_keep(STAR, tmp_path)

    server = actors["server"]
    assert isinstance(server, FedAvgServer)
    evaluated = [r for r in events if r["event"] == "evaluated"]
    assert [r["version"] for r in evaluated] == [0, 1, 2]
    x, y = union_of_training_data(STAR)
    assert abs(evaluated[-1]["train_loss"] - cross_entropy(server.params, x, y)) < 1e-5
    assert evaluated[0]["train_loss"] > evaluated[-1]["train_loss"]  # it learns
    assert 0.0 <= evaluated[-1]["train_accuracy"] <= 1.0
    assert summarize(events)["final_train_loss"] == evaluated[-1]["train_loss"]
    plot_runs([Run("a", events, "simulated")], tmp_path / "cmp.png")  # the dashed training-loss curves draw
    assert (tmp_path / "cmp.png").stat().st_size > 0


def test_a_fixed_seeded_sample_of_the_training_data_can_stand_for_all_of_it(tmp_path: Path) -> None:
    text = STAR.replace("eval_train = true", "eval_train = true\neval_train_samples = 100")

    actors, events = run_and_keep(text, tmp_path)

    x, y = union_of_training_data(text)
    keep = torch.randperm(len(y), generator=torch.Generator().manual_seed(derived_seed(4, 8)))[:100]
    final = [r for r in events if r["event"] == "evaluated"][-1]
    assert abs(final["train_loss"] - cross_entropy(actors["server"].params, x[keep], y[keep])) < 1e-5  # type: ignore[attr-defined]


def test_without_eval_train_nothing_extra_is_recorded(tmp_path: Path) -> None:
    _, events = run_and_keep(STAR.replace("eval_train = true\n", ""), tmp_path)

    assert all("train_loss" not in r for r in events if r["event"] == "evaluated")
