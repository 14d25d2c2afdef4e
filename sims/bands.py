"""Mean curves with shaded 95% CI bands over seeds: the figure of `fedactors sweep --seeds`.

Each seed's accuracy is a step function of the x axis (an evaluation holds
until the next); the curves are sampled on a common grid up to where the
shortest seed ends, so every point of the band averages every seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sims.plots import Run, curves, progress_label, time_label
from sims.results import pyplot
from sims.stats import t_quantile

GRID_POINTS = 200
X_AXES = (("time", 1.0), ("progress", 1.0), ("bytes", 1e-6))  # clock s, updates, MB


def band(runs: list[Run], key: str, factor: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The grid, the mean accuracy over `runs` on it, and the CI half-width (0 for one run)."""
    seeds = [curves(run) for run in runs]
    end = min(c[key][-1] for c in seeds) * factor if all(c[key] for c in seeds) else 0.0
    grid = np.linspace(0.0, end, GRID_POINTS)
    held = np.array([_step(np.asarray(c[key]) * factor, np.asarray(c["accuracy"]), grid) for c in seeds])
    mean = held.mean(axis=0)
    if len(runs) < 2:
        return grid, mean, np.zeros_like(mean)
    half = t_quantile(len(runs) - 1) * held.std(axis=0, ddof=1) / np.sqrt(len(runs))
    return grid, mean, half


def _step(xs: np.ndarray, ys: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """ys held from each x until the next (before the first x: the first y)."""
    return ys[np.clip(np.searchsorted(xs, grid, side="right") - 1, 0, len(ys) - 1)]


def plot_bands(points: dict[str, list[Run]], path: Path, title: str = "") -> None:
    """Accuracy against clock time, updates and MB sent: per point its mean over seeds and the 95% CI."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    every = [run for runs in points.values() for run in runs]
    labels = (time_label(every), progress_label(every), "MB sent")
    for label, runs in points.items():
        for ax, (key, factor) in zip(axes, X_AXES, strict=True):
            grid, mean, half = band(runs, key, factor)
            line = ax.plot(grid, mean, label=f"{label} (n={len(runs)})")
            ax.fill_between(grid, mean - half, mean + half, color=line[0].get_color(), alpha=0.2)
    for ax, xlabel in zip(axes, labels, strict=True):
        ax.set(xlabel=xlabel, ylabel="test accuracy (mean, 95% CI)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
