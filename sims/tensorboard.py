"""TensorBoard event files of a run (`[report] tensorboard = true`), from `events.jsonl`.

Written into `<run dir>/tensorboard/` with torch's `SummaryWriter` (the
`tensorboard` extra), after the run, from the event log alone, like the other
results; `tensorboard --logdir runs/` then shows every run side by side.
Scalars (docs/results.md):

    accuracy, loss, train_loss   step: model version (gossip: round)
    staleness                    step: model version; mean τ of the updates applied at it
    by_time/<the same>           step: milliseconds on the run's clock (simulated in a simulation)

Every point's wall time is its time on the run's clock (simulated seconds in a
simulation, so TensorBoard's "relative" axis is simulated time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

Records = list[dict[str, Any]]
Times = Callable[[Records], list[float]]  # the clock seconds of some of the run's records
Point = tuple[str, float, int, float]  # tag, value, step, clock seconds
EVALUATED = ("accuracy", "loss", "train_loss")


def scalars(records: Records, times: Times) -> list[Point]:
    """Every scalar a run's TensorBoard file holds, in the order written."""
    evals = [r for r in records if r["event"] == "evaluated"]
    points = [
        (key, float(r[key]), int(r["version"]), at)
        for r, at in zip(evals, times(evals), strict=True)
        for key in EVALUATED
        if r.get(key) is not None
    ]
    points += _staleness(records, times)
    return points + [(f"by_time/{tag}", value, round(at * 1000), at) for tag, value, _, at in points]


def _staleness(records: Records, times: Times) -> list[Point]:
    """Mean staleness of the updates applied at each version, at the time of the last of them."""
    applied = [r for r in records if r["event"] == "update_applied" and r.get("staleness") is not None]
    by_version: dict[int, list[int]] = defaultdict(list)
    last: dict[int, float] = {}
    for r, at in zip(applied, times(applied), strict=True):
        by_version[int(r["version"])].append(r["staleness"])
        last[int(r["version"])] = at
    return [("staleness", sum(v) / len(v), version, last[version]) for version, v in by_version.items()]


def write_tensorboard(run_dir: Path, records: Records, times: Times) -> Path:
    """Write the run's scalars into `run_dir/tensorboard/`, replacing an earlier file; return the folder.

    `times` gives picked records' times on the run's clock (`sims.results.clock_times`).

    Raises:
        ImportError: the `tensorboard` package is not installed (validate refuses such a file first).
    """
    from torch.utils.tensorboard import SummaryWriter  # the optional extra: only when asked for

    folder = run_dir / "tensorboard"
    for old in folder.glob("events.out.tfevents.*"):
        old.unlink()  # results recomputed (a resumed run): one file, not two overlaid
    writer = SummaryWriter(log_dir=str(folder))
    try:
        for tag, value, step, at in scalars(records, times):
            writer.add_scalar(tag, value, step, walltime=at)
    finally:
        writer.close()
    return folder
