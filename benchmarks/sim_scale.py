"""Simulation at scale: FedAsync, 1,000 clients, log-normal compute, 20% dropouts, Synthetic(1,1).

    python benchmarks/sim_scale.py                 # 10,000 applied updates, real training
    python benchmarks/sim_scale.py --quick         # 200 updates, 100 clients
    python benchmarks/sim_scale.py --clients 1000,10000 --noop-only --repeats 3

Runs the same topology twice in one process: with real torch training, and
with training replaced by a no-op trainer (the baseline measured in the same
run), so the difference is the cost of training and the no-op run is the
framework's own overhead per update (actors, messages, mixing, bookkeeping).

Per update, two figures: the whole run (wall time of `simulate` over the
updates applied: building the data and the actors included, which at 10,000
clients and 10,000 updates is one client's setup per update), and the steady
state: CPU time from the first applied update to the last, over the updates
in between, which is the cost that must not grow with the number of clients.
A third leaves out the gaps between updates that hold an evaluation of the
global model (its test set grows with the clients here). With several
`--clients`, the last lines give the steady-state no-op figures of the largest
against the smallest (target: within 1.2x).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from actors.client.local_sgd import Evaluation, TrainResult
from actors.logs import configure_logging
from actors.metrics import Record
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


class _UpdateTimes:
    """CPU time between applied updates (the recorder's `on_record` hook).

    `steady` is from the first applied update to the last; `between` leaves out
    the gaps with an evaluation of the global model in them (whose cost grows
    with the test set, which grows with the clients in this workload).
    """

    def __init__(self) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.count = 0
        self.between = 0.0
        self.gaps = 0
        self._evaluated = False

    def on_record(self, record: Record) -> None:
        if record["event"] == "evaluated":
            self._evaluated = True
        elif record["event"] == "update_applied":
            now = time.process_time()
            if self.first is None:
                self.first = now
            elif not self._evaluated:
                self.between += now - self.last
                self.gaps += 1
            self.last, self._evaluated = now, False
            self.count += 1

    def steady_ms_per_update(self) -> float:
        if self.first is None or self.count < 2:
            return float("nan")
        return 1000 * (self.last - self.first) / (self.count - 1)

    def between_ms_per_update(self) -> float:
        return 1000 * self.between / self.gaps if self.gaps else float("nan")


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
    times = _UpdateTimes()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        reason = simulate(spec, Path(tmp), progress=times)
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
        "steady_cpu_ms_per_update": times.steady_ms_per_update(),
        "steady_cpu_ms_no_eval": times.between_ms_per_update(),
    }


def main() -> None:
    args = _arguments()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # NoOpTrainer, by import path
    sizes = [100] if args.quick else [int(c) for c in args.clients.split(",")]
    updates = 200 if args.quick else 10_000
    torch.set_num_threads(1)
    configure_logging("warning")
    print(
        f"FedAsync sim: {updates} updates, log-normal compute, 20% dropouts, {args.workers} worker(s), "
        f"{args.repeats} repeat(s) (min-max)"
    )
    header = (
        "run",
        "wall s",
        "applied",
        "dropped",
        "sim time s",
        "ms/update",
        "steady CPU ms",
        "w/o eval ms",
    )
    header += ("accuracy",)
    print(f"{header[0]:<32}" + "".join(f"{h:>14}" for h in header[1:]))
    results: dict[str, list[dict[str, float]]] = {}
    for clients in sizes:
        kinds = [("no-op training (base)", True)] + ([] if args.noop_only else [("torch training", False)])
        for name, noop in kinds:
            runs = [measure(clients, updates, noop=noop, workers=args.workers) for _ in range(args.repeats)]
            results[f"{clients} {'noop' if noop else 'torch'}"] = runs
            print(f"{f'{clients:,} clients, {name}':<32}" + _cells(runs))
    _ratios(results, sizes, args.noop_only)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100 clients, 200 updates")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    parser.add_argument("--clients", default="1000", help="client counts, comma-separated (default 1000)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each case (default 1)")
    parser.add_argument("--noop-only", action="store_true", help="only the no-op trainer's runs")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="training workers (default 1: logistic regression trains in ~1 ms, less than a round trip)",
    )
    return parser.parse_args()


def _span(values: list[float], digits: int) -> str:
    low, high = min(values), max(values)
    return f"{low:.{digits}f}" if low == high else f"{low:.{digits}f}-{high:.{digits}f}"


def _cells(runs: list[dict[str, float]]) -> str:
    last = runs[-1]
    acc = last["final_accuracy"] if last["final_accuracy"] is not None else float("nan")
    cells = [
        _span([r["wall_s"] for r in runs], 1),
        f"{last['updates_applied']}",
        f"{last['updates_dropped']}",
        f"{last['sim_time_s']:.0f}",
        _span([r["ms_per_update"] for r in runs], 3),
        _span([r["steady_cpu_ms_per_update"] for r in runs], 3),
        _span([r["steady_cpu_ms_no_eval"] for r in runs], 3),
        f"{acc:.3f}",
    ]
    return "".join(f"{c:>14}" for c in cells)


def _ratios(results: dict[str, list[dict[str, float]]], sizes: list[int], noop_only: bool) -> None:
    if not noop_only:
        for clients in sizes:
            real, noop = results[f"{clients} torch"], results[f"{clients} noop"]
            ratio = [r["wall_s"] / n["wall_s"] for r, n in zip(real, noop, strict=True)]
            speed = [r["sim_time_s"] / r["wall_s"] for r in real]
            print(
                f"{clients:,} clients: torch/no-op wall time {_span(ratio, 2)}, "
                f"simulated/wall {_span(speed, 0)}x"
            )
    if len(sizes) > 1:
        small, large = min(sizes), max(sizes)
        for key, what in (
            ("steady_cpu_ms_per_update", ""),
            ("steady_cpu_ms_no_eval", ", evaluations left out"),
        ):
            low = [r[key] for r in results[f"{small} noop"]]
            high = [r[key] for r in results[f"{large} noop"]]
            print(
                f"no-op steady-state CPU per update{what}, {large:,} vs {small:,} clients: "
                f"{min(high) / max(low):.2f}-{max(high) / min(low):.2f}x, "
                f"medians {statistics.median(high) / statistics.median(low):.2f}x (target <= 1.2x)"
            )


if __name__ == "__main__":
    main()
