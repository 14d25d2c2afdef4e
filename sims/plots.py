"""Compare runs in one figure: `fedactors plot RUN_DIR...` and the sweep figure.

Accuracy and loss (test; dashed: the global model's training loss, when the
server records it with `eval_train`) against simulated (clock) time, against applied updates and
against bytes uploaded; the staleness histogram; and participation (applied
updates per client, sorted).
"""

from __future__ import annotations

import math
from collections import Counter
from itertools import accumulate
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sims.results import read_events

Records = list[dict[str, Any]]


def _curves(records: Records) -> dict[str, list[float]]:
    """Per evaluation: clock time, updates applied so far, bytes so far, accuracy, loss."""
    applied, sent = 0, 0
    out: dict[str, list[float]] = {k: [] for k in ("vt", "updates", "bytes", "accuracy", "loss", "train")}
    for r in records:
        if r["event"] == "update_applied":
            applied += 1
            sent += r.get("bytes", 0)
        elif r["event"] == "evaluated":
            for key, value in (
                ("vt", r["vt"]),
                ("updates", applied),
                ("bytes", sent),
                ("accuracy", r["accuracy"]),
                ("loss", r["loss"]),
                ("train", r.get("train_loss", math.nan)),  # [server] eval_train
            ):
                out[key].append(value)
    return out


def plot_runs(runs: list[tuple[str, Records]], path: Path, title: str = "") -> None:
    """Overlay `(label, records)` runs and save a PNG at `path`.

    Rows: accuracy, then loss, each against simulated time, applied updates and
    MB uploaded; last row: staleness histogram and participation per client.
    """
    fig, axes = plt.subplots(3, 3, figsize=(15, 11))
    xs = (
        ("vt", "simulated time (s)", 1.0),
        ("updates", "updates applied", 1.0),
        ("bytes", "MB uploaded", 1e-6),
    )
    for label, records in runs:
        c = _curves(records)
        for row, metric in enumerate(("accuracy", "loss")):
            for col, (key, _, factor) in enumerate(xs):
                line = axes[row, col].plot([v * factor for v in c[key]], c[metric], label=label)
                if metric == "loss" and any(not math.isnan(v) for v in c["train"]):
                    x = [v * factor for v in c[key]]
                    axes[row, col].plot(x, c["train"], "--", color=line[0].get_color())
        staleness = [r["staleness"] for r in records if r["event"] == "update_applied"]
        if staleness:
            axes[2, 0].hist(staleness, bins=range(max(staleness) + 2), histtype="step", label=label)
        counts = sorted(Counter(r["client"] for r in records if r["event"] == "update_applied").values())
        axes[2, 1].plot(list(accumulate(1 for _ in counts)), counts, label=label)
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


def plot_run_dirs(run_dirs: list[Path], path: Path) -> None:
    """`plot_runs` over run directories, labelled by their names."""
    plot_runs([(d.name, read_events(d / "events.jsonl")) for d in run_dirs], path, "run comparison")
