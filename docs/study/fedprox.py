"""FedProx Figure 1 (Synthetic(1,1), 90% stragglers) over several seeds, in one command.

    python docs/study/fedprox.py --seeds 0,1,2 --jobs 2

runs `topologies/examples/fedprox_fig1.toml` as FedAvg (stragglers dropped),
FedProx μ = 0 and FedProx μ = 1 for every seed (in parallel `fedactors run`
processes, through the sweep tooling), then writes `docs/study/fedprox.png`
(the global model's training loss per round: mean over seeds, min–max band)
and prints the table of docs/study/fedprox.md.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from launcher.sweep import Point, run_grid
from sims.results import read_events

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "topologies" / "examples" / "fedprox_fig1.toml"
VARIANTS = {
    "FedAvg (stragglers dropped)": ("client.prox_mu=0", "server.stragglers=drop"),
    "FedProx μ=0": ("client.prox_mu=0",),
    "FedProx μ=1": (),
}
ROUNDS = 200


def points(seeds: list[int], out: Path, stop: str) -> dict[str, list[Point]]:
    by_variant = {}
    for index, (label, overrides) in enumerate(VARIANTS.items()):
        by_variant[label] = [
            Point((*overrides, stop, f"seed={seed}"), f"{label}, seed {seed}", out / f"v{index}-seed{seed}")
            for seed in seeds
        ]
    return by_variant


def by_round(run_dir: Path, rounds: int, key: str = "train_loss") -> dict[int, float]:
    """`key` of the global model's evaluation after each round (a failed round repeats the last)."""
    curve, current = {}, 0
    for record in read_events(run_dir / "events.jsonl"):
        if record["event"] == "round_started":
            current = record["round"]
        elif record["event"] == "evaluated" and current <= rounds:
            curve[current] = record[key]
    last = curve[0]
    for r in range(rounds + 1):  # a failed round leaves the model as it was
        last = curve.setdefault(r, last)
    return curve


def dropped_share(run_dir: Path) -> float:
    events = read_events(run_dir / "events.jsonl")
    cancelled = sum(1 for r in events if r["event"] in ("task_cancelled", "update_dropped"))
    tasks = sum(1 for r in events if r["event"] == "round_started" for _ in r["clients"])
    return cancelled / tasks


def summarize(by_variant: dict[str, list[Point]], rounds: int) -> list[dict[str, Any]]:
    rows = []
    for label, runs in by_variant.items():
        curves = [by_round(p.run_dir, rounds) for p in runs]
        at_end = [c[rounds] for c in curves]
        accuracy = [by_round(p.run_dir, rounds, "accuracy")[rounds] for p in runs]
        rows.append({
            "variant": label,
            "seeds": len(runs),
            f"train_loss_{rounds}": f"{statistics.mean(at_end):.4f} ± {statistics.stdev(at_end):.4f}",
            "test_accuracy": f"{statistics.mean(accuracy):.4f} ± {statistics.stdev(accuracy):.4f}",
            "work_lost": f"{statistics.mean(dropped_share(p.run_dir) for p in runs):.0%}",
        })  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(str(r[h]) for h in headers) + " |" for r in rows])


def plot(by_variant: dict[str, list[Point]], path: Path, rounds: int) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, runs in by_variant.items():
        curves = [by_round(p.run_dir, rounds) for p in runs]
        mean = [statistics.mean(c[r] for c in curves) for r in range(rounds + 1)]
        line = ax.plot(range(rounds + 1), mean, label=label)
        low = [min(c[r] for c in curves) for r in range(rounds + 1)]
        high = [max(c[r] for c in curves) for r in range(rounds + 1)]
        ax.fill_between(range(rounds + 1), low, high, color=line[0].get_color(), alpha=0.2)
    ax.set(xlabel="# rounds", ylabel="training loss", title="Synthetic(1,1), 90% stragglers")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated run seeds (at least 2)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per run (the paper: 200)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "fedprox-fig1", help="run directories")
    parser.add_argument("--reuse", action="store_true", help="keep runs that already have a summary")
    parser.add_argument("--no-run", action="store_true", help="only tabulate and plot the runs in --out")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "study" / "fedprox.png")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    by_variant = points(seeds, args.out, f"stop.max_rounds={args.rounds}")
    everything = [p for runs in by_variant.values() for p in runs]
    if args.reuse:
        everything = [p for p in everything if not (p.run_dir / "summary.json").exists()]
    if args.no_run:
        everything = []
    codes = asyncio.run(run_grid(FILE, everything, max(1, args.jobs), "sim"))
    if any(codes):
        raise SystemExit(f"runs failed with exit codes {codes}")
    plot(by_variant, args.figure, args.rounds)
    print(table(summarize(by_variant, args.rounds)))


if __name__ == "__main__":
    main()
