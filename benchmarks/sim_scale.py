"""Simulation at scale: FedAsync, 1,000 clients, log-normal compute, 20% dropouts, Synthetic(1,1).

    python benchmarks/sim_scale.py                 # 10,000 applied updates, real training
    python benchmarks/sim_scale.py --quick         # 200 updates, 100 clients

Runs the same topology twice in one process: with real torch training, and
with training replaced by a no-op trainer (the baseline measured in the same
run), so the difference is the cost of training and the no-op run is the
framework's own overhead per update (actors, messages, mixing, bookkeeping).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from actors.client.local_sgd import Evaluation, TrainResult
from actors.logs import configure_logging
from actors.statedict import StateDict
from sims.results import read_events, summarize
from sims.simulate import simulate
from topologies.load import parse_topology

SPEC = """
name = "sim-scale"
seed = 0
mode = "sim"
[graph]
template = "star"
clients = {clients}
[server]
algorithm = "fedasync"
alpha = 0.5
staleness = {{ kind = "polynomial", a = 0.5 }}
concurrency = {concurrency}
task_timeout_s = 60
eval_every = {eval_every}
[client]
epochs = 1
batch_size = 32
lr = 0.05
{trainer}
[model]
kind = "logreg"
[data]
kind = "synthetic"
alpha = 1.0
beta = 1.0
num_users = {clients}
[behaviour.compute]
time = {{ kind = "lognormal", median_s = 5.0, sigma = 1.0 }}
[behaviour.availability]
drop_probability = 0.2
[stop]
max_versions = {updates}
[sim]
workers = {workers}
"""


class NoOpTrainer:
    """Returns the weights it was given: everything but the training itself."""

    def __init__(
        self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: object, seed: int
    ) -> None:
        self._num_samples = len(y)

    @property
    def num_samples(self) -> int:
        return self._num_samples

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        return weights, TrainResult(self._num_samples, 0, 0.0)

    def evaluate(self, weights: StateDict) -> Evaluation:
        return Evaluation(0.0, 0.0, 1)


def measure(clients: int, updates: int, noop: bool, workers: int = 1) -> dict[str, float]:
    trainer = 'trainer = "benchmarks.sim_scale:NoOpTrainer"' if noop else ""
    text = SPEC.format(
        workers=workers,
        clients=clients,
        updates=updates,
        concurrency=clients // 10,
        eval_every=max(1, updates // 20),
        trainer=trainer,
    )
    spec = parse_topology(text)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        reason = simulate(spec, Path(tmp))
        wall = time.perf_counter() - started
        summary = summarize(read_events(Path(tmp) / "events.jsonl"))
    return {
        "reason": reason,
        "wall_s": wall,
        "updates_applied": summary["updates_applied"],
        "updates_dropped": summary["updates_dropped"],
        "sim_time_s": summary["sim_time_s"],
        "final_accuracy": summary["final_accuracy"],
        "ms_per_update": 1000 * wall / max(1, summary["updates_applied"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 clients, 200 updates")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="training workers (default 1: logistic regression trains in ~1 ms, less than a round trip)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # NoOpTrainer, by import path
    clients, updates = (100, 200) if args.quick else (1000, 10_000)
    torch.set_num_threads(1)
    configure_logging("warning")
    noop = measure(clients, updates, noop=True, workers=args.workers)
    real = measure(clients, updates, noop=False, workers=args.workers)
    print(
        f"FedAsync sim: {clients} clients, {updates} updates, log-normal compute, 20% dropouts, "
        f"{args.workers} worker(s)"
    )
    header = ("run", "wall s", "applied", "dropped", "sim time s", "ms/update", "accuracy")
    print(f"{header[0]:<24}" + "".join(f"{h:>11}" for h in header[1:]))
    for name, r in (("no-op training (base)", noop), ("torch training", real)):
        acc = r["final_accuracy"] if r["final_accuracy"] is not None else float("nan")
        print(
            f"{name:<24}{r['wall_s']:>11.1f}{r['updates_applied']:>11}{r['updates_dropped']:>11}"
            f"{r['sim_time_s']:>11.0f}{r['ms_per_update']:>11.3f}{acc:>11.3f}"
        )
    print(f"ratio torch/no-op wall time: {real['wall_s'] / noop['wall_s']:.2f}")
    print(f"simulated/wall time: {real['sim_time_s'] / real['wall_s']:.0f}x")
    if args.json:
        args.json.write_text(json.dumps({"noop": noop, "torch": real}, indent=2))


if __name__ == "__main__":
    main()
