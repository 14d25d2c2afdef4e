"""fedactors from Python: load a topology, run it, sweep it, read its results as records.

    import fedactors
    spec = fedactors.load_topology("topologies/examples/fedasync.toml", **{"stop.max_versions": 20})
    run = fedactors.run(spec, out="runs/notebook")
    run.evaluations[-1]["accuracy"], run.updates.to_pandas()  # pandas: the `pandas` extra

See docs/api.md.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedactors.records import Table
from topologies.spec import RunSpec

__all__ = ["Run", "Table", "load_topology", "run", "sweep"]


def _toml(value: Any) -> str:
    """A Python value as the TOML text an override takes."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)  # str, int, float, bool: the same spelling in TOML


def _overrides(overrides: dict[str, Any]) -> list[str]:
    """`server__alpha=0.3` or `**{"server.alpha": 0.3}` -> `server.alpha=0.3`."""
    return [f"{key.replace('__', '.')}={_toml(value)}" for key, value in overrides.items()]


def load_topology(path: str | Path, **overrides: Any) -> RunSpec:
    """The validated spec of the file, after every check `fedactors run` makes.

    Overrides name keys with `__` or dots: `server__alpha=0.3`, `**{"stop.max_versions": 20}`.

    Raises:
        TopologyError, SimError, KeyFileError: the file (or an override) is refused.
    """
    from launcher.preflight import check_run

    return check_run(Path(path), _overrides(overrides))


@dataclass(frozen=True)
class Run:
    """A run directory's results: `summary` (`summary.json`), and the tidy tables
    `evaluations`, `updates`, `clients` as `Table`s of records (docs/results.md)."""

    run_dir: Path
    summary: dict[str, Any]
    evaluations: Table
    updates: Table
    clients: Table

    @classmethod
    def load(cls, run_dir: str | Path) -> Run:
        """The results of an existing run directory."""
        from sims.results import read_events
        from sims.tables import clients, evaluations, updates

        run_dir = Path(run_dir)
        records = read_events(run_dir / "events.jsonl")
        update_rows = updates(records)
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        tables = (Table(evaluations(records)), Table(update_rows), Table(clients(update_rows)))
        return cls(run_dir, summary, *tables)


def run(spec: RunSpec, mode: str = "sim", out: str | Path | None = None) -> Run:
    """Run `spec` (from `load_topology`) to its end; its results.

    Args:
        mode: `sim` (one process, virtual time) or `local` (node processes over ZeroMQ).
        out: the run directory (default: `runs/<name>-<UTC time>`).

    Raises:
        ValueError: `mode` is neither.
        SimError, LauncherError: as `fedactors run` (a device or worker that cannot be used).
    """
    from launcher.run import default_run_dir, run_local, run_sim
    from sims.devices import check_devices

    if mode not in ("sim", "local"):
        raise ValueError(f"mode must be 'sim' or 'local', got {mode!r}")
    spec = RunSpec.model_validate({**spec.model_dump(), "mode": mode})
    run_dir = Path(out) if out is not None else default_run_dir(spec)
    check_devices(spec)
    if mode == "local":
        return Run.load(asyncio.run(run_local(spec, None, run_dir)).run_dir)
    return Run.load(run_sim(spec, None, run_dir).run_dir)


def sweep(
    path: str | Path,
    sets: Sequence[str] = (),
    *,
    seeds: Sequence[int] | None = None,
    out: str | Path,
    jobs: int = 1,
    mode: str | None = None,
) -> Table:
    """`fedactors sweep PATH --set ... [--seeds ...]`: run the grid; the rows of `sweep.csv`.

    Raises:
        TopologyError, SimError, KeyFileError: a point is refused (nothing ran).
        ValueError: a set is not `key=v1,v2`.
    """
    from launcher.seeds import read_csv
    from launcher.sweep import sweep as run_sweep

    out = Path(out)
    run_sweep(Path(path), list(sets), out, jobs, mode, list(seeds) if seeds is not None else None)
    return Table(read_csv(out / "sweep.csv"))
