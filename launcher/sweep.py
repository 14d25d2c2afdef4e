"""`fedactors sweep FILE --set key=v1,v2 ... [--seeds 0-9]`: run a grid of variants, compare them.

Every point of the grid is validated before any run starts. Runs go in
parallel processes (`fedactors run --set ...`), each into its own run
directory under the sweep's; then one table (`sweep.md`, `sweep.csv`) and one
figure (`sweep.png`) compare them. With `--seeds`, every point runs once per
seed (`NN-label/seed-S/`) and the table and figure give each point's mean
and 95% CI over its seeds (`launcher.seeds`, `sims.bands`).
"""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.preflight import check_run
from launcher.seeds import write_seed_tables
from sims.bands import plot_bands
from sims.plots import Run, plot_runs
from sims.results import read_events, run_clock
from sims.workers.start import WORKERS_ENV, usable_cores

COLUMNS = (
    "finish_reason",
    "final_accuracy",
    "best_accuracy",
    "final_train_loss",
    "sim_time_to_target_s",
    "time_to_target_s",
    "versions",
    "updates_applied",
    "updates_dropped",
    "staleness_mean",
    "staleness_p90",
    "sim_time_s",
    "wall_time_s",
)
TARGET_SPENT = ("target_accuracy", "updates_to_target", "bytes_to_target")


@dataclass(frozen=True, slots=True)
class Point:
    """One run of the grid: its overrides, and where it goes."""

    overrides: tuple[str, ...]
    label: str
    run_dir: Path
    seed: int | None = None


def split_values(text: str) -> list[str]:
    """`0.3,0.6` -> ['0.3', '0.6']; commas inside [] or {} do not split."""
    values, depth, current = [], 0, ""
    for ch in text:
        depth += ch in "[{"
        depth -= ch in "]}"
        if ch == "," and depth == 0:
            values.append(current)
            current = ""
        else:
            current += ch
    return [*values, current]


def grid(
    sets: list[str], out_dir: Path, seeds: list[int] | None = None, base: tuple[str, ...] = ()
) -> list[Point]:
    """Every combination of `key=v1,v2,...` assignments, in the order given, after the
    `base` overrides (each one value, not split), once per seed when `seeds` are given.

    Each run's folder is its number and its legend label, e.g. `01-alpha=0.3_lr=0.05`,
    or `02-server=fedavg` for a whole table (its first string stands for it); with
    seeds, `01-alpha=0.3_lr=0.05/seed-0`.
    """
    axes = []
    for assignment in sets:
        key, sep, values = assignment.partition("=")
        if not sep:
            raise ValueError(f"--set needs key=value[,value...], got {assignment!r}")
        axes.append([f"{key}={v}" for v in split_values(values)])
    points = []
    for number, combo in enumerate(itertools.product(*axes), 1):
        label = ",".join(_short(a) for a in combo) or "base"
        folder = out_dir / f"{number:02d}-{_folder_name(combo)}"
        if seeds is None:
            points.append(Point((*base, *combo), label, folder))
        else:
            points += [Point((*base, *combo, f"seed={s}"), label, folder / f"seed-{s}", s) for s in seeds]
    return points


def _folder_name(combo: tuple[str, ...]) -> str:
    """`alpha=0.3_lr=0.05`: each assignment as its label, with the table's name for a whole table."""
    parts = []
    for assignment in combo:
        short = _short(assignment)
        named = short if "=" in short else f"{assignment.partition('=')[0].split('.')[-1]}={short}"
        parts.append(re.sub(r"[\[\]{}\"' ]", "", named).replace(",", "-"))
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", "_".join(parts))[:80].strip("_") or "base"


def _short(assignment: str) -> str:
    """A legend label: `alpha=0.3`, or for a whole table its first string (`fedavg`)."""
    key, _, value = assignment.partition("=")
    if len(value) <= 20:
        return f"{key.split('.')[-1]}={value}"
    quoted = re.search(r'"([^"]+)"', value)
    return quoted.group(1) if quoted else value[:20]


async def run_grid(file: Path, points: list[Point], jobs: int, mode: str | None) -> list[int]:
    """Run every point, at most `jobs` at once; return their exit codes."""
    slots = asyncio.Semaphore(jobs)
    # Runs at once share the cores: a simulation's default is a training worker per core.
    share = str(max(1, usable_cores() // max(1, min(jobs, len(points)))))
    env = {**os.environ, WORKERS_ENV: os.environ.get(WORKERS_ENV, share)}

    async def one(point: Point) -> int:
        args = [sys.executable, "-m", "launcher.cli", "run", str(file), "--out", str(point.run_dir)]
        args += [f"--set={o}" for o in point.overrides] + ([f"--mode={mode}"] if mode else [])
        async with slots:
            proc = await asyncio.create_subprocess_exec(
                *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env
            )
            _, err = await proc.communicate()
            if proc.returncode not in (0, 130):
                print(
                    f"{point.label}: exit {proc.returncode}\n{err.decode(errors='replace')[-2000:]}",
                    file=sys.stderr,
                )
            return proc.returncode if proc.returncode is not None else 1

    return list(await asyncio.gather(*(one(p) for p in points)))


def row(point: Point) -> dict[str, Any]:
    """The point's summary, flat: `COLUMNS` and the amounts spent to reach the target."""
    summary = json.loads((point.run_dir / "summary.json").read_text(encoding="utf-8"))
    staleness = summary.get("staleness") or {}
    flat = {**summary, "staleness_mean": staleness.get("mean"), "staleness_p90": staleness.get("p90")}
    return {"run": point.label, **{c: flat.get(c) for c in (*COLUMNS, *TARGET_SPENT)}}


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else "" if value is None else str(value)


def write_table(rows: list[dict[str, Any]], out_dir: Path) -> str:
    """Write `sweep.csv` and `sweep.md`; return the Markdown."""
    headers = ["run", *COLUMNS]
    with (out_dir / "sweep.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=headers, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(r[h]) for h in headers) + " |" for r in rows]
    markdown = "\n".join(lines) + "\n"
    (out_dir / "sweep.md").write_text(markdown, encoding="utf-8")
    return markdown


def sweep(
    file: Path,
    sets: list[str],
    out_dir: Path,
    jobs: int,
    mode: str | None,
    seeds: list[int] | None = None,
    base: tuple[str, ...] = (),
) -> tuple[str, int]:
    """Validate, run and compare the grid; return the Markdown table and the worst exit code.

    Args:
        seeds: run every point once per seed and compare means with CIs (None: once, as the file says).
        base: overrides every run takes (`fedactors run --set`, not split on commas).

    Raises:
        TopologyError, SimError, KeyFileError: a point of the grid is refused
            by the checks `run` makes (nothing ran).
        ValueError: a `--set` is not of the form key=values.
    """
    points = grid(sets, out_dir, seeds, base)
    for point in points:
        if point.seed is None or point.seed == points[0].seed:  # another seed changes no check
            check_run(file, point.overrides)  # what `run` checks: nothing starts if one point fails
    out_dir.mkdir(parents=True, exist_ok=True)
    codes = asyncio.run(run_grid(file, points, jobs, mode))
    done = [p for p in points if (p.run_dir / "summary.json").exists()]
    if seeds is None:
        markdown = write_table([row(p) for p in done], out_dir)
        plot_runs([_run(p) for p in done], out_dir / "sweep.png", file.stem)
    else:
        markdown = _compare_seeds(done, out_dir, file.stem)
    return markdown, max(codes, default=0)


def _run(point: Point) -> Run:
    return Run(point.label, read_events(point.run_dir / "events.jsonl"), run_clock(point.run_dir))


def _compare_seeds(done: list[Point], out_dir: Path, title: str) -> str:
    """The seeds' tables and their band figure; return the Markdown."""
    by_label: dict[str, list[Point]] = {}
    for point in done:
        by_label.setdefault(point.label, []).append(point)
    summaries = {label: {p.seed: row(p) for p in ps} for label, ps in by_label.items()}
    # with --seeds every point has its seed: Point.seed is None only in a sweep without them
    markdown = write_seed_tables(summaries, out_dir)  # type: ignore[arg-type]
    plot_bands({label: [_run(p) for p in ps] for label, ps in by_label.items()}, out_dir / "sweep.png", title)
    return markdown
