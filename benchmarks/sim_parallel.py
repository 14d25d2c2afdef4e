"""Parallel simulation: a CNN per client on Fashion-MNIST, 100 clients, 1 to N training workers.

    python benchmarks/sim_parallel.py                  # FedAsync and FedAvg, 2,000 updates each
    python benchmarks/sim_parallel.py --repeats 3      # min-max over 3 runs per worker count
    python benchmarks/sim_parallel.py --quick          # 200 updates (a smoke run)

Uses Debian's `dataset-fashion-mnist` (`apt-get install dataset-fashion-mnist`)
when its idx files are there, else scikit-learn's digits upscaled to 28x28, and
says which. For each algorithm and worker count it prints the wall time of
the simulation (first event to last; and with loading data and starting
workers), the speed-up and parallel efficiency against 1 worker (training inline), the
framework's overhead per update (the same run with a no-op trainer: actors,
messages, and with workers the round trip to them), the workers' utilisation,
and the peak resident memory of the whole process tree (simulation and
workers, sampled every 50 ms). Every worker count gives the same events; the
benchmark checks that too.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch

from actors.logs import configure_logging
from sims.results import read_events, summarize
from sims.simulate import simulate
from sims.workers.start import usable_cores
from topologies.load import parse_topology
from topologies.specs.data import FashionMnistDataSpec

COMMON = """
name = "sim-parallel-{algorithm}"
seed = 0
mode = "sim"
[graph]
template = "star"
clients = 100
[client]
steps = 3
batch_size = 32
lr = 0.05
momentum = 0.9
{trainer}
[model]
kind = "cnn"
channels = [16, 32]
[data]
{data}
partition = {{ kind = "dirichlet", alpha = 1.0 }}
[behaviour.compute]
time = {{ kind = "lognormal", median_s = 5.0, sigma = 0.8 }}
slow_fraction = 0.1
slow_factor = 5
[sim]
workers = {workers}
"""

FEDASYNC = """
[server]
algorithm = "fedasync"
alpha = 0.5
staleness = {{ kind = "polynomial", a = 0.5 }}
concurrency = 20
eval_every = {eval_every}
[stop]
max_versions = {updates}
"""

FEDAVG = """
[server]
algorithm = "fedavg"
clients_per_round = 20
eval_every = {eval_rounds}
[stop]
max_rounds = {rounds}
"""


def data_table() -> tuple[str, str]:
    """The `[data]` lines, and what the data are."""
    if FashionMnistDataSpec().train_images.exists():
        return 'kind = "fashion_mnist"', "Fashion-MNIST (Debian's dataset-fashion-mnist)"
    text = 'kind = "custom"\npath = "benchmarks.sim_parallel:digits_28x28"'
    return text, "digits upscaled to 28x28 (dataset-fashion-mnist is not installed)"


def topology(algorithm: str, workers: int, updates: int, noop: bool) -> str:
    data, _ = data_table()
    trainer = 'trainer = "benchmarks.sim_scale:NoOpTrainer"' if noop else ""
    text = COMMON.format(algorithm=algorithm, trainer=trainer, data=data, workers=workers)
    # Evaluated at the start and the end only: evaluation runs in the simulation
    # process (10,000 test images through the CNN), the part no worker shares.
    if algorithm == "fedasync":
        return text + FEDASYNC.format(updates=updates, eval_every=updates)
    rounds = updates // 20
    return text + FEDAVG.format(rounds=rounds, eval_rounds=rounds)


class PeakMemory:
    """Samples the resident memory of this process and all its descendants (Linux /proc)."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s = every_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak_bytes = max(self.peak_bytes, sum(_rss(pid) for pid in _tree(os.getpid())))


def _tree(pid: int) -> list[int]:
    pids, stack = [], [pid]
    while stack:
        current = stack.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                stack.extend(int(c) for c in task.read_text().split())
    return pids


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(algorithm: str, workers: int, updates: int, noop: bool) -> dict[str, Any]:
    spec = parse_topology(topology(algorithm, workers, updates, noop))
    with tempfile.TemporaryDirectory() as tmp, PeakMemory() as memory:
        started = time.perf_counter()
        reason = simulate(spec, Path(tmp))
        wall = time.perf_counter() - started
        events = read_events(Path(tmp) / "events.jsonl")
    summary = summarize(events)
    trained = sum(1 for e in events if e["event"] == "task_trained")
    stamps = [float(e["t"]) for e in events]
    fingerprint = [{k: v for k, v in e.items() if k != "t"} for e in events]
    return {
        "reason": reason,
        "total_s": wall,
        # first event to last: the simulation itself, without loading data or starting workers
        "wall_s": max(stamps) - min(stamps),
        "trained": trained,
        "accuracy": summary["final_accuracy"],
        "peak_rss_mb": memory.peak_bytes / 2**20,
        "events": json.dumps(fingerprint),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 updates")
    parser.add_argument("--updates", type=int, default=2000, help="updates per run (default 2,000)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per worker count (min-max shown)")
    parser.add_argument("--max-workers", type=int, default=usable_cores())
    parser.add_argument("--algorithms", default="fedasync,fedavg")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # sim_scale:NoOpTrainer, by path
    updates = 200 if args.quick else args.updates
    torch.set_num_threads(1)
    configure_logging("error")
    print(f"data: {data_table()[1]}; CNN (16, 32), 100 clients, {updates} updates, 3 steps of 32 per task")
    figures = {
        a: run_algorithm(a, updates, args.max_workers, args.repeats) for a in args.algorithms.split(",")
    }
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


def run_algorithm(algorithm: str, updates: int, max_workers: int, repeats: int) -> dict[str, Any]:
    rows: dict[int, dict[str, Any]] = {}
    reference = None
    for workers in range(1, max_workers + 1):
        runs = [measure(algorithm, workers, updates, noop=False) for _ in range(repeats)]
        for run in runs:
            reference = reference or run["events"]
            assert run["events"] == reference, f"{algorithm}: {workers} workers changed the events"
        overhead = measure(algorithm, workers, updates, noop=True)
        rows[workers] = {
            "wall_s": [r["wall_s"] for r in runs],
            "total_s": [r["total_s"] for r in runs],
            "trained": runs[0]["trained"],
            "accuracy": runs[0]["accuracy"],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "overhead_ms_per_update": 1000 * overhead["wall_s"] / max(1, overhead["trained"]),
        }
    print_table(algorithm, rows)
    return {str(k): v for k, v in rows.items()}


def print_table(algorithm: str, rows: dict[int, dict[str, Any]]) -> None:
    base = min(rows[1]["wall_s"])
    first = rows[1]
    print(f"\n{algorithm}: {first['trained']} tasks trained, final accuracy {first['accuracy']}")
    header = (
        "workers",
        "run s (min-max)",
        "with start s",
        "speed-up",
        "efficiency",
        "overhead ms/upd",
        "peak RSS MB",
    )
    print("".join(f"{h:>17}" for h in header))
    for workers, row in rows.items():
        low, high = min(row["wall_s"]), max(row["wall_s"])
        best, worst = base / low, base / high
        print(
            f"{workers:>17}{f'{low:.1f}-{high:.1f}':>17}{max(row['total_s']):>17.1f}"
            f"{f'{worst:.2f}-{best:.2f}x':>17}"
            f"{f'{worst / workers:.0%}-{best / workers:.0%}':>17}"
            f"{row['overhead_ms_per_update']:>17.2f}{row['peak_rss_mb']:>17.0f}"
        )


def digits_28x28(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """scikit-learn's digits, upscaled to 28x28 (the stand-in when Fashion-MNIST is absent)."""
    import numpy as np

    from sims.data.digits import load_digits
    from topologies.specs.data import DigitsDataSpec

    loaded = load_digits(DigitsDataSpec(), np.random.default_rng(seed))

    def upscale(x: Any) -> torch.Tensor:
        images = torch.as_tensor(np.asarray(x), dtype=torch.float32).reshape(-1, 1, 8, 8)
        return torch.nn.functional.interpolate(images, size=(28, 28), mode="bilinear")

    return (
        upscale(loaded.train_x),
        torch.as_tensor(loaded.train_y),
        upscale(loaded.test_x),
        torch.as_tensor(loaded.test_y),
    )


if __name__ == "__main__":
    main()
