"""A sweep over seeds: per point, the mean and 95% CI of each result over its seeds.

`fedactors sweep FILE --seeds 0-9` runs every point once per seed; this module
turns their summaries into `sweep.csv` / `sweep.md` (one row per point: mean,
std and CI of each metric; how many seeds reached the target), `seeds.csv`
(one row per run), the paired comparison of every point against the first
(difference of means, paired by seed, with its CI) and `sweep.png` (mean
curves with shaded CI bands).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from sims.stats import estimate, paired_difference

# (summary field, Markdown heading, scale for the table)
METRICS = (
    ("final_accuracy", "final accuracy", 1.0),
    ("best_accuracy", "best accuracy", 1.0),
    ("sim_time_to_target_s", "time to target (clock s)", 1.0),
    ("time_to_target_s", "time to target (wall s)", 1.0),
    ("updates_to_target", "updates to target", 1.0),
    ("bytes_to_target", "MB to target", 1e-6),
    ("staleness_mean", "staleness mean", 1.0),
    ("updates_applied", "updates applied", 1.0),
)
TARGET_METRICS = {"sim_time_to_target_s", "time_to_target_s", "updates_to_target", "bytes_to_target"}
PAIRED = ("final_accuracy", "best_accuracy", "sim_time_to_target_s")
STATS = ("mean", "std", "ci95_low", "ci95_high")

SeedRows = dict[int, dict[str, Any]]  # seed -> its run's flat summary row


def parse_seeds(text: str) -> list[int]:
    """`0-4` -> [0, 1, 2, 3, 4]; `0-2,7` -> [0, 1, 2, 7].

    Raises:
        ValueError: not a list of whole numbers and ranges, or a seed twice.
    """
    seeds: list[int] = []
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not low.isdigit() or (dash and not high.isdigit()):
            raise ValueError(f"--seeds must be whole numbers and ranges like 0-9 or 0-4,7, got {text!r}")
        seeds += list(range(int(low), int(high) + 1)) if dash else [int(low)]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds must name each seed once, got {text!r}")
    return seeds


def aggregate(label: str, runs: SeedRows) -> dict[str, Any]:
    """One point's row: `run`, `seeds`, `target_reached`, and `<metric>_<stat>` for each metric."""
    row: dict[str, Any] = {
        "run": label,
        "seeds": len(runs),
        "target_accuracy": next(iter(runs.values())).get("target_accuracy"),
        "target_reached": sum(r.get("sim_time_to_target_s") is not None for r in runs.values()),
    }
    for key, _, _ in METRICS:
        est = estimate([r.get(key) for r in runs.values()])
        values = (est.mean, est.std, est.ci_low, est.ci_high)
        row.update(zip((f"{key}_{s}" for s in STATS), values, strict=True))
    return row


def columns() -> list[str]:
    return [
        "run",
        "seeds",
        "target_accuracy",
        "target_reached",
        *(f"{k}_{s}" for k, _, _ in METRICS for s in STATS),
    ]


def paired_rows(points: dict[str, SeedRows]) -> list[dict[str, Any]]:
    """Every point against the first: the difference of means, paired by seed, with its CI."""
    (base_label, base), *others = points.items()
    rows = []
    for label, runs in others:
        row: dict[str, Any] = {"run": label, "against": base_label}
        for key in PAIRED:
            diff = paired_difference(_by_seed(runs, key), _by_seed(base, key))
            row.update({f"{key}_diff": diff.mean, f"{key}_ci95_low": diff.ci_low,
                        f"{key}_ci95_high": diff.ci_high, f"{key}_pairs": diff.n})  # fmt: skip
        rows.append(row)
    return rows


def _by_seed(runs: SeedRows, key: str) -> dict[int, float | None]:
    return {seed: row.get(key) for seed, row in runs.items()}


def _fmt(value: float | None, scale: float = 1.0) -> str:
    return "" if value is None else f"{value * scale:.4g}"


def _with_ci(row: dict[str, Any], key: str, scale: float) -> str:
    mean, low, high = (row[f"{key}_{s}"] for s in ("mean", "ci95_low", "ci95_high"))
    if mean is None:
        return "not reached" if key in TARGET_METRICS and row["target_accuracy"] is not None else ""
    if low is None:
        return _fmt(mean, scale)
    return f"{_fmt(mean, scale)} ± {_fmt((high - low) / 2, scale)}"


def markdown(rows: list[dict[str, Any]], paired: list[dict[str, Any]]) -> str:
    """The point table (mean ± 95% CI half-width over seeds) and the paired comparison."""
    headers = ["run", "seeds", "reached target", *(h for _, h, _ in METRICS)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        reached = f"{r['target_reached']}/{r['seeds']}" if r["target_accuracy"] is not None else "no target"
        cells = [r["run"], str(r["seeds"]), reached]
        lines.append("| " + " | ".join(cells + [_with_ci(r, k, s) for k, _, s in METRICS]) + " |")
    text = "\n".join(lines) + "\n\nmean ± half-width of the 95% Student-t CI over seeds; time, updates " \
        "and MB to target over the seeds that reached it.\n"  # fmt: skip
    if paired:
        text += "\n" + _paired_markdown(paired)
    return text


def _paired_markdown(paired: list[dict[str, Any]]) -> str:
    headers = ["run", "against", *(f"Δ {h}" for k, h, _ in METRICS if k in PAIRED)]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in paired:
        cells = [r["run"], r["against"]] + [_interval(r, k) for k in PAIRED]
        lines.append("| " + " | ".join(cells) + " |")
    note = "\nΔ: mean of the per-seed differences (run − against) [95% CI] (pairs).\n"
    return "\n".join(lines) + "\n" + note


def _interval(row: dict[str, Any], key: str) -> str:
    mean, low, high, n = (row[f"{key}_{s}"] for s in ("diff", "ci95_low", "ci95_high", "pairs"))
    if mean is None:
        return "no pairs"
    bounds = f" [{_fmt(low)}, {_fmt(high)}]" if low is not None else ""
    return f"{_fmt(mean)}{bounds} ({n})"


def write_csv(path: Path, headers: list[str], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=headers, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)


def write_seed_tables(points: dict[str, SeedRows], out_dir: Path) -> str:
    """Write `sweep.csv`, `sweep.md`, `paired.csv` and `seeds.csv`; return the Markdown."""
    rows = [aggregate(label, runs) for label, runs in points.items()]
    paired = paired_rows(points) if len(points) > 1 else []
    write_csv(out_dir / "sweep.csv", columns(), rows)
    if paired:
        write_csv(out_dir / "paired.csv", list(paired[0]), paired)
    per_run = [{**row, "seed": seed} for runs in points.values() for seed, row in runs.items()]
    write_csv(out_dir / "seeds.csv", list(dict.fromkeys(k for r in per_run for k in r)), per_run)
    text = markdown(rows, paired)
    (out_dir / "sweep.md").write_text(text, encoding="utf-8")
    return text


def read_csv(path: Path) -> list[dict[str, Any]]:
    """A table written by this module, numbers as numbers and empty cells as None."""
    with path.open(newline="", encoding="utf-8") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _number(text: str) -> Any:
    if text == "":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text
