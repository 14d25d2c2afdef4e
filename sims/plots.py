"""Compare runs in one figure: `fedactors plot RUN_DIR...` and the sweep figure.

Six panels: accuracy against simulated (clock) time, against applied updates
and against bytes uploaded; loss against simulated time; the staleness
histogram; and participation (applied updates per client, sorted).
"""

from __future__ import annotations

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
    out: dict[str, list[float]] = {k: [] for k in ("vt", "updates", "bytes", "accuracy", "loss")}
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
            ):
                out[key].append(value)
    return out


def plot_runs(runs: list[tuple[str, Records]], path: Path, title: str = "") -> None:
    """Overlay `(label, records)` runs in the six panels and save a PNG at `path`."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for label, records in runs:
        c = _curves(records)
        axes[0, 0].plot(c["vt"], c["accuracy"], label=label)
        axes[0, 1].plot(c["updates"], c["accuracy"], label=label)
        axes[0, 2].plot([b / 1e6 for b in c["bytes"]], c["accuracy"], label=label)
        axes[1, 0].plot(c["vt"], c["loss"], label=label)
        staleness = [r["staleness"] for r in records if r["event"] == "update_applied"]
        if staleness:
            axes[1, 1].hist(staleness, bins=range(max(staleness) + 2), histtype="step", label=label)
        counts = sorted(Counter(r["client"] for r in records if r["event"] == "update_applied").values())
        axes[1, 2].plot(list(accumulate(1 for _ in counts)), counts, label=label)
    labels = [
        ("simulated time (s)", "test accuracy"),
        ("updates applied", "test accuracy"),
        ("MB uploaded", "test accuracy"),
        ("simulated time (s)", "test loss"),
        ("staleness τ", "updates"),
        ("clients (sorted)", "updates applied"),
    ]
    for ax, (x, y) in zip(axes.flat, labels, strict=True):
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_run_dirs(run_dirs: list[Path], path: Path) -> None:
    """`plot_runs` over run directories, labelled by their names."""
    plot_runs([(d.name, read_events(d / "events.jsonl")) for d in run_dirs], path, "run comparison")
