"""A run's results: `summary.json`, tidy CSV tables and `accuracy.png`, all computed from `events.jsonl`.

Only the event log (and `topology.json`, for the run's mode) is read, so
results can be recomputed for any run directory, including one cut short by
Ctrl-C. Times are on the run's own clock: simulated seconds (`vt`) in a
simulation, wall seconds since the first event (`t`) in a real run; each axis
says which.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from sims.tables import write_tables
from sims.wire import WireSizes

Clock = Literal["simulated", "wall"]
CLOCK_LABELS: dict[Clock, str] = {"simulated": "simulated time (s)", "wall": "wall time (s)"}


def run_clock(run_dir: Path) -> Clock:
    """The clock a run's times are read on: simulated for a simulation, wall otherwise
    (from `topology.json`; a directory without one is taken as a real run)."""
    try:
        mode = json.loads((run_dir / "topology.json").read_text(encoding="utf-8"))["mode"]
    except (OSError, ValueError, KeyError, TypeError):
        return "wall"
    return "simulated" if mode == "sim" else "wall"


def _wants_tensorboard(run_dir: Path) -> bool:
    """`[report] tensorboard = true` in the run's `topology.json`."""
    try:
        spec = json.loads((run_dir / "topology.json").read_text(encoding="utf-8"))
        return bool(spec["report"]["tensorboard"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def clock_times(records: list[dict[str, Any]], picked: list[dict[str, Any]], clock: Clock) -> list[float]:
    """The times of `picked` (some of the run's `records`) on `clock`: their `vt`,
    or wall seconds since the run's first record."""
    if clock == "simulated":
        return [r["vt"] for r in picked]
    start_t = records[0]["t"] if records else 0.0
    return [r["t"] - start_t for r in picked]


def version_label(records: list[dict[str, Any]]) -> str:
    """What a run's versions count: global model versions, or a gossip run's rounds."""
    events = {r["event"] for r in records}
    if "gossip_exchanged" in events:
        return "mean local steps per peer"
    if "gossip_round" in events or "consensus" in events:
        return "gossip round"
    return "global model version"


def pyplot() -> Any:
    """matplotlib's pyplot on the file-only backend, imported on first use (it
    costs half a second that a run's start should not pay)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers and in CI
    import matplotlib.pyplot as plt

    return plt


def read_events(path: Path) -> list[dict[str, Any]]:
    """The records of an `events.jsonl`, in order (a torn last line is skipped)."""
    records = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # the writer was killed mid-line; everything before it stands
    return records


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))
    return sorted_values[index]


def staleness_stats(values: list[int]) -> dict[str, float] | None:
    """Mean, p50, p90 and max of the staleness of applied updates (nearest-rank percentiles)."""
    if not values:
        return None
    ordered = sorted(values)
    return {
        "mean": sum(ordered) / len(ordered),
        "p50": _percentile(ordered, 0.5),
        "p90": _percentile(ordered, 0.9),
        "max": ordered[-1],
    }


def summarize(records: list[dict[str, Any]], target_accuracy: float | None = None) -> dict[str, Any]:
    """The summary of a run from its records (see docs/results.md for each field)."""
    start_t = records[0]["t"] if records else 0.0
    evals = [r for r in records if r["event"] == "evaluated"]
    applied = [r for r in records if r["event"] == "update_applied"]
    dropped = [r for r in records if r["event"] == "update_dropped"]
    finished = next((r for r in records if r["event"] == "run_finished"), None)
    wire = WireSizes(records)
    reached = next(
        (r for r in evals if target_accuracy is not None and r["accuracy"] >= target_accuracy), None
    )
    return {
        "finished": finished is not None,
        "finish_reason": finished["reason"] if finished else "interrupted",
        "versions": max((r["version"] for r in records if r["event"] == "model_updated"), default=0),
        "final_accuracy": evals[-1]["accuracy"] if evals else None,
        "best_accuracy": max((r["accuracy"] for r in evals), default=None),
        "final_loss": evals[-1]["loss"] if evals else None,
        "final_train_loss": evals[-1].get("train_loss") if evals else None,  # with [server] eval_train
        "target_accuracy": target_accuracy,
        "time_to_target_s": (reached["t"] - start_t) if reached else None,
        "sim_time_to_target_s": reached["vt"] if reached else None,
        **_spent_to_target(records, reached, wire),
        "updates_applied": len(applied),
        "updates_dropped": len(dropped),
        "rejected": dict(sorted(Counter(r.get("reason", "unknown") for r in dropped).items())),
        **_bytes_sent(records, applied, wire),
        "staleness": staleness_stats([r["staleness"] for r in applied]),
        "staleness_by_level": _staleness_by_level(applied),
        "consensus": _consensus(records),
        "compression": _compression(records),
        "participation": dict(sorted(Counter(r["client"] for r in applied).items())),
        "wall_time_s": (records[-1]["t"] - start_t) if records else 0.0,
        "sim_time_s": max((r["vt"] for r in records), default=0.0),
    }


def _bytes_sent(
    records: list[dict[str, Any]], applied: list[dict[str, Any]], wire: WireSizes
) -> dict[str, int]:
    """Tensor bytes up (applied updates, gossip models) and down (the tasks behind applied
    updates), as sent (compressed where the link compresses, `sims.wire`) and dense."""
    up = [wire.sent(r) for r in records]
    return {
        "bytes_up": sum(sent for sent, _ in up),
        "bytes_up_dense": sum(dense for _, dense in up),
        "bytes_down": sum(wire.task(r) for r in applied),
        "bytes_down_dense": sum(r.get("bytes", 0) for r in applied),
    }


def _spent_to_target(
    records: list[dict[str, Any]], reached: dict[str, Any] | None, wire: WireSizes
) -> dict[str, Any]:
    """Updates applied and bytes sent (as `bytes_up` counts them) before the evaluation that
    first reached the target."""
    if reached is None:
        return {"updates_to_target": None, "bytes_to_target": None}
    before = records[: next(i for i, r in enumerate(records) if r is reached)]
    return {
        "updates_to_target": sum(r["event"] == "update_applied" for r in before),
        "bytes_to_target": sum(wire.sent(r)[0] for r in before),
    }


def _compression(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Runs with `[compression]`: per direction (and gossip), messages compressed, the bytes their
    weights took on the wire (`bytes`) and would have taken dense (`dense_bytes`), and their ratio."""
    sent = [r for r in records if r["event"] == "message_compressed"]
    if not sent:
        return None
    out: dict[str, Any] = {}
    for direction, kinds in (
        ("uplink", ("fl.update",)),
        ("downlink", ("fl.task",)),
        ("gossip", ("gossip.model", "gossip.push_pull")),
    ):
        these = [r for r in sent if r["kind"] in kinds]
        nbytes, dense = sum(r["bytes"] for r in these), sum(r["dense_bytes"] for r in these)
        out[direction] = {
            "messages": len(these),
            "bytes": nbytes,
            "dense_bytes": dense,
            "ratio": nbytes / dense if dense else None,
        }
    return out


def _staleness_by_level(applied: list[dict[str, Any]]) -> dict[str, Any] | None:
    """In a hierarchy, staleness per aggregating actor: the server's (edges against
    global versions) and each scheduler's (clients against edge versions)."""
    actors = sorted({r["actor"] for r in applied})
    if len(actors) < 2:
        return None
    return {a: staleness_stats([r["staleness"] for r in applied if r["actor"] == a]) for a in actors}


def _consensus(records: list[dict[str, Any]]) -> dict[str, float] | None:
    """Gossip runs: the first and last consensus distances, and their ratio."""
    measured = [r for r in records if r["event"] == "consensus"]
    if not measured:
        return None
    return {
        "first": measured[0]["distance"],
        "final": measured[-1]["distance"],
        "relative": measured[-1]["relative"],
    }


def plot_consensus(records: list[dict[str, Any]], path: Path, title: str, clock: Clock = "wall") -> None:
    """Gossip runs: consensus distance (relative, log scale) by round and against the run's clock."""
    measured = [r for r in records if r["event"] == "consensus"]
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    left.semilogy([r["version"] for r in measured], [max(r["relative"], 1e-12) for r in measured], marker=".")
    right.semilogy(
        clock_times(records, measured, clock), [max(r["relative"], 1e-12) for r in measured], marker="."
    )
    left.set_xlabel(version_label(records))
    right.set_xlabel(CLOCK_LABELS[clock])
    for ax in (left, right):
        ax.axhline(0.01, color="grey", linestyle="--", linewidth=1, label="1% of the start")
        ax.set_ylabel("consensus distance / first")
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_accuracy(records: list[dict[str, Any]], path: Path, title: str, clock: Clock = "wall") -> None:
    """Test accuracy against the run's clock time and against model versions (or gossip rounds)."""
    evals = [r for r in records if r["event"] == "evaluated"]
    plt = pyplot()
    fig, (by_time, by_version) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    by_time.plot(clock_times(records, evals, clock), _acc(evals), marker=".")
    by_time.set_xlabel(CLOCK_LABELS[clock])
    by_time.set_ylabel("test accuracy")
    by_version.plot([r["version"] for r in evals], _acc(evals), marker=".")
    by_version.set_xlabel(version_label(records))
    for ax in (by_time, by_version):
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _acc(evals: list[dict[str, Any]]) -> list[float]:
    return [r["accuracy"] for r in evals]


def write_results(run_dir: Path, title: str, target_accuracy: float | None) -> dict[str, Any]:
    """Write `summary.json`, the tidy tables (`sims.tables`), `accuracy.png` and, with
    `[report] tensorboard = true`, TensorBoard's event files for `run_dir`; return the summary."""
    records = read_events(run_dir / "events.jsonl")
    summary = summarize(records, target_accuracy)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    write_tables(run_dir, records)
    clock = run_clock(run_dir)
    if _wants_tensorboard(run_dir):
        from sims.tensorboard import write_tensorboard  # torch's SummaryWriter: only when asked for

        write_tensorboard(run_dir, records, lambda picked: clock_times(records, picked, clock))
    plot_accuracy(records, run_dir / "accuracy.png", title, clock)
    if summary["consensus"] is not None:
        plot_consensus(records, run_dir / "consensus.png", title, clock)
    return summary
