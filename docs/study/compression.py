"""Compressed uplinks: FedBuff on a 100 kB/s uplink, time to 90% accuracy, in one command.

    python docs/study/compression.py --seeds 0,1,2,3,4 --jobs 2

runs `docs/study/compression.toml` without compression, with 8-bit QSGD and
with top-1% + error feedback uplinks for every seed (parallel `fedactors run`
processes, through the sweep tooling), writes `docs/study/compression.png`
(test accuracy against simulated time: mean over seeds, 95% CI band) and
prints the table of docs/study/compression.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from launcher.sweep import Point, run_grid
from sims.results import read_events

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "docs" / "study" / "compression.toml"
VARIANTS = {
    "no compression": (),
    "QSGD 8-bit": ('compression.client.uplink={ kind = "qsgd", bits = 8 }',),
    "top-1% + error feedback": ('compression.client.uplink={ kind = "topk", fraction = 0.01 }',),
}
T_95 = {2: 12.706, 3: 4.303, 4: 3.182, 5: 2.776, 6: 2.571, 7: 2.447, 8: 2.365, 9: 2.306, 10: 2.262}


def points(seeds: list[int], out: Path) -> dict[str, list[Point]]:
    return {
        label: [Point((*o, f"seed={s}"), f"{label}, seed {s}", out / f"v{i}-seed{s}") for s in seeds]
        for i, (label, o) in enumerate(VARIANTS.items())
    }


def ci(values: list[float]) -> str:
    """mean ± half-width of the 95% t interval."""
    half = T_95[len(values)] * statistics.stdev(values) / len(values) ** 0.5
    return f"{statistics.mean(values):.1f} ± {half:.1f}"


def uplink_mb(summary: dict[str, Any]) -> float:
    compression = summary["compression"]
    return (compression["uplink"]["bytes"] if compression else summary["bytes_up"]) / 1e6


def summarize(by_variant: dict[str, list[Point]]) -> list[dict[str, Any]]:
    rows = []
    for label, runs in by_variant.items():
        summaries = [json.loads((p.run_dir / "summary.json").read_text()) for p in runs]
        reached = [s["sim_time_to_target_s"] for s in summaries if s["sim_time_to_target_s"] is not None]
        rows.append({
            "uplink": label,
            "seeds reaching 90%": f"{len(reached)}/{len(runs)}",
            "sim time to 90% (s)": ci(reached) if len(reached) > 1 else "—",
            "updates applied": ci([s["updates_applied"] for s in summaries]),
            "uplink MB sent": ci([uplink_mb(s) for s in summaries]),
        })  # fmt: skip
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(str(r[h]) for h in headers) + " |" for r in rows])


def curve(run_dir: Path, grid: list[float]) -> list[float]:
    """Test accuracy at each grid time (the last evaluation before it; held after the run ends)."""
    evals = [
        (r["vt"], r["accuracy"]) for r in read_events(run_dir / "events.jsonl") if r["event"] == "evaluated"
    ]
    out, i, last = [], 0, evals[0][1] if evals else 0.0
    for t in grid:
        while i < len(evals) and evals[i][0] <= t:
            last = evals[i][1]
            i += 1
        out.append(last)
    return out


def plot(by_variant: dict[str, list[Point]], path: Path, until_s: float = 80.0) -> None:
    grid = [until_s * k / 400 for k in range(401)]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, runs in by_variant.items():
        curves = [curve(p.run_dir, grid) for p in runs]
        mean = [statistics.mean(c[k] for c in curves) for k in range(len(grid))]
        half = [
            T_95[len(curves)] * statistics.stdev(c[k] for c in curves) / len(curves) ** 0.5
            for k in range(len(grid))
        ]
        line = ax.plot(grid, mean, label=label)
        low, high = (
            [m - h for m, h in zip(mean, half, strict=True)],
            [m + h for m, h in zip(mean, half, strict=True)],
        )
        ax.fill_between(grid, low, high, color=line[0].get_color(), alpha=0.2)
    ax.axhline(0.9, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="simulated time (s)", ylabel="test accuracy", title="FedBuff, 100 kB/s uplink (95% CI)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated run seeds (2 to 10)")
    parser.add_argument("--jobs", type=int, default=2, help="runs at once")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "runs" / "compression-study", help="run directories"
    )
    parser.add_argument("--no-run", action="store_true", help="only tabulate and plot the runs in --out")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "study" / "compression.png")
    args = parser.parse_args()
    by_variant = points([int(s) for s in args.seeds.split(",")], args.out)
    everything = [] if args.no_run else [p for runs in by_variant.values() for p in runs]
    codes = asyncio.run(run_grid(FILE, everything, max(1, args.jobs), "sim"))
    if any(codes):
        raise SystemExit(f"runs failed with exit codes {codes}")
    plot(by_variant, args.figure)
    print(table(summarize(by_variant)))


if __name__ == "__main__":
    main()
