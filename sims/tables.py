"""A run's tidy tables: `evaluations.csv`, `updates.csv` and `clients.csv`, from `events.jsonl`.

One row per observation and one column per variable, so that a notebook
loads them without parsing the event log (`pandas.read_csv`, or the records
of `fedactors.Run`). Each column is documented in docs/results.md.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

from sims.wire import WireSizes

Records = list[dict[str, Any]]
Row = dict[str, Any]

EVALUATION_COLUMNS = ("actor", "version", "vt", "t", "accuracy", "loss", "train_loss")
UPDATE_COLUMNS = (
    "actor",
    "client",
    "status",
    "reason",
    "version",
    "staleness",
    "weight",
    "num_samples",
    "bytes",
    "dense_bytes",
    "compute_s",
    "vt",
    "t",
)
CLIENT_COLUMNS = ("client", "applied", "dropped", "staleness_mean", "bytes", "compute_s_mean")
UPDATE_EVENTS = {"update_applied": "applied", "update_dropped": "dropped"}


def _since_start(records: Records, record: dict[str, Any]) -> float:
    elapsed: float = record["t"] - records[0]["t"]
    return elapsed


def evaluations(records: Records) -> list[Row]:
    """One row per `evaluated` event; `t` is wall seconds since the run's first event."""
    return [
        {
            "actor": r["actor"],
            "version": r["version"],
            "vt": r["vt"],
            "t": _since_start(records, r),
            "accuracy": r["accuracy"],
            "loss": r["loss"],
            "train_loss": r.get("train_loss"),
        }
        for r in records
        if r["event"] == "evaluated"
    ]


def updates(records: Records) -> list[Row]:
    """One row per applied or dropped update (`update_applied`, `update_dropped`), in log order.

    `weight` is what the update counted for: FedAsync's mixing weight `alpha`,
    FedBuff's staleness `weight`, else empty. A dropped update's staleness is
    `version - base_version` when the event has both.
    """
    rows = []
    wire = WireSizes(records)
    for r in records:
        status = UPDATE_EVENTS.get(r["event"])
        if status is None:
            continue
        rows.append(
            {
                "actor": r["actor"],
                "client": r.get("client"),
                "status": status,
                "reason": r.get("reason"),
                "version": r.get("version"),
                "staleness": r.get("staleness", _dropped_staleness(r)),
                "weight": r.get("weight", r.get("alpha")),
                "num_samples": r.get("num_samples"),
                "bytes": wire.update(r) if status == "applied" else None,
                "dense_bytes": r.get("bytes"),
                "compute_s": r.get("compute_s"),
                "vt": r["vt"],
                "t": _since_start(records, r),
            }
        )
    return rows


def _dropped_staleness(record: dict[str, Any]) -> int | None:
    version, base = record.get("version"), record.get("base_version")
    if isinstance(version, int) and isinstance(base, int):
        return version - base
    return None


def clients(update_rows: list[Row]) -> list[Row]:
    """One row per client that sent an update: counts, mean staleness of its applied
    updates, bytes of its applied updates, mean compute time; sorted by client."""
    by_client: dict[str, list[Row]] = defaultdict(list)
    for row in update_rows:
        if row["client"] is not None:
            by_client[str(row["client"])].append(row)
    return [_client_row(name, by_client[name]) for name in sorted(by_client)]


def _client_row(name: str, rows: list[Row]) -> Row:
    applied = [r for r in rows if r["status"] == "applied"]
    staleness = [r["staleness"] for r in applied if r["staleness"] is not None]
    compute = [r["compute_s"] for r in applied if r["compute_s"] is not None]
    return {
        "client": name,
        "applied": len(applied),
        "dropped": len(rows) - len(applied),
        "staleness_mean": sum(staleness) / len(staleness) if staleness else None,
        "bytes": sum(r["bytes"] or 0 for r in applied),
        "compute_s_mean": sum(compute) / len(compute) if compute else None,
    }


def write_csv(path: Path, columns: tuple[str, ...], rows: list[Row]) -> None:
    """`rows` as CSV with a header; None is an empty cell."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)


def write_tables(run_dir: Path, records: Records) -> None:
    """Write the three tables of a run directory from its records."""
    update_rows = updates(records)
    write_csv(run_dir / "evaluations.csv", EVALUATION_COLUMNS, evaluations(records))
    write_csv(run_dir / "updates.csv", UPDATE_COLUMNS, update_rows)
    write_csv(run_dir / "clients.csv", CLIENT_COLUMNS, clients(update_rows))
