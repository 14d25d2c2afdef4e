"""Compare runs in one figure: `fedactors plot [RUN_DIR...] [--label NAME=DIR...]` and the sweep figure.

Accuracy and loss against the runs' clock time (simulated for simulations,
wall for real runs: the axis says which, or both when they are mixed),
against applied updates (gossip runs: against rounds, as they apply none) and
against bytes sent (updates up, or models between gossip peers; as sent, compressed where links compress); the
staleness histogram; and participation (applied updates per client, sorted).
Dashed: the global model's training loss, when the server records it (`eval_train`).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Any

from sims.errors import SimError
from sims.results import (
    CLOCK_LABELS,
    Clock,
    clock_times,
    pyplot,
    read_events,
    run_clock,
    version_label,
)
from sims.wire import WireSizes

Records = list[dict[str, Any]]


class PlotInputError(SimError):
    """A run to plot was named wrongly (not a run directory, or a `--label` without `=`)."""


@dataclass(frozen=True, slots=True)
class Run:
    """One run to draw: its legend label, its events and the clock its times are on."""

    label: str
    records: Records
    clock: Clock = "wall"

    @property
    def is_gossip(self) -> bool:
        return any(r["event"] == "consensus" for r in self.records)


def load_runs(run_dirs: list[Path], labelled: Sequence[str] = ()) -> list[Run]:
    """The runs in `run_dirs` (labelled by their names) and in `labelled` (`NAME=DIR`), in that order.

    Raises:
        PlotInputError: a `--label` is not NAME=DIR, or a directory has no `events.jsonl`.
    """
    named = [(d.name, d) for d in run_dirs]
    for item in labelled:
        name, sep, directory = item.partition("=")
        if not sep or not name or not directory:
            raise PlotInputError(f"--label must be NAME=DIR, got {item!r}")
        named.append((name, Path(directory)))
    if not named:
        raise PlotInputError("name at least one run directory (RUN_DIR or --label NAME=DIR)")
    missing = [str(d) for _, d in named if not (d / "events.jsonl").exists()]
    if missing:
        raise PlotInputError(f"not run directories (no events.jsonl): {', '.join(missing)}")
    return [Run(name, read_events(d / "events.jsonl"), run_clock(d)) for name, d in named]


def curves(run: Run) -> dict[str, list[float]]:
    """Per evaluation: clock time, progress (updates applied so far; a gossip run's
    round), bytes sent so far, accuracy and loss."""
    applied, sent = 0, 0
    out: dict[str, list[float]] = {k: [] for k in ("progress", "bytes", "accuracy", "loss", "train")}
    evals = []
    wire = WireSizes(run.records)
    for r in run.records:
        sent += wire.sent(r)[0]  # as sent: compressed links count their compressed bytes
        if r["event"] == "update_applied":
            applied += 1
        elif r["event"] == "evaluated":
            evals.append(r)
            progress = r["version"] if run.is_gossip else applied
            for key, value in (
                ("progress", progress),
                ("bytes", sent),
                ("accuracy", r["accuracy"]),
                ("loss", r["loss"]),
                ("train", r.get("train_loss", math.nan)),  # [server] eval_train
            ):
                out[key].append(value)
    out["time"] = clock_times(run.records, evals, run.clock)
    return out


def time_label(runs: list[Run]) -> str:
    """The clock axis's label: the runs' clock, or both when sims and real runs are mixed."""
    clocks = {run.clock for run in runs}
    if len(clocks) == 1:
        return CLOCK_LABELS[clocks.pop()]
    return "time (s): simulated for simulations, wall for real runs"


def progress_label(runs: list[Run]) -> str:
    """The progress axis's label: applied updates, gossip rounds, or both."""
    gossip = [run for run in runs if run.is_gossip]
    if not gossip:
        return "updates applied"
    rounds = version_label(gossip[0].records)
    return rounds if len(gossip) == len(runs) else f"updates applied ({rounds} for gossip runs)"


def plot_runs(runs: list[Run], path: Path, title: str = "") -> None:
    """Overlay `runs` and save a PNG at `path`.

    Rows: accuracy, then loss, each against clock time, progress and MB sent;
    last row: staleness histogram and participation per client.
    """
    plt = pyplot()
    fig, axes = plt.subplots(3, 3, figsize=(15, 11))
    xs = (
        ("time", time_label(runs), 1.0),
        ("progress", progress_label(runs), 1.0),
        ("bytes", "MB sent", 1e-6),
    )
    for run in runs:
        c = curves(run)
        for row, metric in enumerate(("accuracy", "loss")):
            for col, (key, _, factor) in enumerate(xs):
                x = [v * factor for v in c[key]]
                line = axes[row, col].plot(x, c[metric], label=run.label)
                if metric == "loss" and any(not math.isnan(v) for v in c["train"]):
                    axes[row, col].plot(x, c["train"], "--", color=line[0].get_color())
        applied = [r for r in run.records if r["event"] == "update_applied"]
        staleness = [r["staleness"] for r in applied]
        if staleness:
            axes[2, 0].hist(staleness, bins=range(max(staleness) + 2), histtype="step", label=run.label)
        counts = sorted(Counter(r["client"] for r in applied).values())
        axes[2, 1].plot(list(accumulate(1 for _ in counts)), counts, label=run.label)
    for row, metric in enumerate(("test accuracy", "test loss (dashed: training loss)")):
        for col, (_, xlabel, _) in enumerate(xs):
            axes[row, col].set(xlabel=xlabel, ylabel=metric)
    axes[2, 0].set(xlabel="staleness τ", ylabel="updates")
    axes[2, 1].set(xlabel="clients (sorted)", ylabel="updates applied")
    axes[2, 2].axis("off")  # the legend's own panel: run labels can be long
    axes[2, 2].legend(*axes[0, 0].get_legend_handles_labels(), loc="center", fontsize=8)
    for ax in axes.flat[:8]:
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_run_dirs(run_dirs: list[Path], path: Path, labelled: Sequence[str] = ()) -> None:
    """`plot_runs` over run directories (see `load_runs`).

    Raises:
        PlotInputError: as for `load_runs`.
    """
    plot_runs(load_runs(run_dirs, labelled), path, "run comparison")
