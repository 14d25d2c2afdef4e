"""`fedactors run --resume RUN_DIR`: continue a run that was cut short, from its checkpoints.

    fedactors run topologies/examples/fedasync.toml --out runs/a    # killed mid-run
    fedactors run --resume runs/a                                  # goes on from the checkpoints

The run directory's own resolved topology (`topology.json`) is read, marked
`checkpoint.resume = true` and written back; the node processes start again
on this machine, each server and scheduler restores its state from
`checkpoints/<actor>.ckpt` before it starts (one with no file starts afresh,
with a warning), and the event log and node logs are appended to. The summary
is computed again over the whole log.

Before that, the event log is cut back to the checkpoints: each checkpointed
actor's events after its `checkpoint_started` for the version it resumes from
are moved to `events.discarded.jsonl`. They describe work the crash undid
(versions past the checkpoint), which the resumed actor makes again; kept,
they would count twice. Every event before the marker is in the log before
the checkpoint is written (`actors.server.checkpoint`), so nothing is lost. Everything is checked before any
process starts: a directory that is not a run, has no checkpoint, holds a
corrupt one, or finished already is refused; and every checkpointed server and
scheduler is built and restored once here, as its node would, so a state that
does not fit (another class, other tensor names, shapes or dtypes, a negative
version or task id, a malformed RNG state) is refused naming the file and the
field, with exit 2, instead of failing inside a node process.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from actors.server.checkpoint import read_checkpoint
from launcher.errors import ResumeError
from sims.results import read_events
from topologies.spec import RunSpec


def prepare_resume(run_dir: Path) -> RunSpec:
    """Check that `run_dir` can be resumed; mark its topology resumed and return it.

    Raises:
        ResumeError: no `topology.json`, an invalid one, a simulation, no
            checkpoint, or a run that finished.
        CheckpointError: a checkpoint file is corrupt, cut short, or holds a state
            that does not fit its actor (the message names the file and the field).
    """
    spec = _resolved_topology(run_dir)
    paths = _checkpoints(run_dir, spec)
    # A corrupt file is refused now, not by a node process later.
    versions = {path.stem: int(read_checkpoint(path)["version"]) for path in paths}
    _check_unfinished(run_dir, spec)
    checkpoint = spec.checkpoint.model_copy(update={"resume": True})
    resumed = spec.model_copy(update={"checkpoint": checkpoint})
    _check_states(resumed, run_dir, paths)  # before the log is touched: a refusal changes nothing
    cut_back_to_checkpoints(run_dir / "events.jsonl", versions)
    (run_dir / "topology.json").write_text(resumed.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return resumed


def _resolved_topology(run_dir: Path) -> RunSpec:
    path = run_dir / "topology.json"
    if not path.is_file():
        raise ResumeError(str(run_dir), "it has no topology.json; give the directory `fedactors run` wrote")
    try:
        spec = RunSpec.model_validate_json(path.read_text(encoding="utf-8"))
    except ValidationError as exc:
        raise ResumeError(str(run_dir), f"its topology.json is not a valid topology: {exc}") from exc
    if spec.mode == "sim":
        raise ResumeError(str(run_dir), "it is a simulation, which writes no checkpoints; run it again")
    return spec


def _checkpoints(run_dir: Path, spec: RunSpec) -> list[Path]:
    directory = Path(spec.checkpoint.directory or run_dir / "checkpoints")
    found = sorted(directory.glob("*.ckpt")) if directory.is_dir() else []
    if not found:
        raise ResumeError(
            str(run_dir),
            f"no checkpoint in {directory}: the run ended before its first one "
            "(see [checkpoint] every_versions and every_s); run it again",
        )
    return found


def _check_unfinished(run_dir: Path, spec: RunSpec) -> None:
    """The root server's `run_finished` ends a run (a scheduler's may only mean it lost its parent)."""
    root = spec.graph.build().root()
    events = run_dir / "events.jsonl"
    records = read_events(events) if events.is_file() else []
    finished = next((r for r in records if r["event"] == "run_finished" and r["actor"] == root), None)
    if finished is not None:
        raise ResumeError(
            str(run_dir),
            f"it finished already ({finished.get('reason')} at version {finished.get('version')})",
        )


def _check_states(spec: RunSpec, run_dir: Path, paths: list[Path]) -> None:
    """Build and restore every checkpointed actor once, as its node process would.

    Raises:
        ResumeError: a checkpoint is named after no server or scheduler of the topology.
        CheckpointError: a state does not fit its actor.
    """
    from launcher.run import with_checkpoint_directory  # the launcher's own resolution
    from sims.build import NodeBuilder

    builder = NodeBuilder(with_checkpoint_directory(spec, run_dir))
    restorable = {n.id for n in builder.graph.nodes if n.role in ("server", "scheduler")}
    strangers = sorted(p.name for p in paths if p.stem not in restorable)
    if strangers:
        raise ResumeError(str(run_dir), f"its checkpoints {strangers} belong to no server or scheduler")
    builder.build([p.stem for p in paths])


def cut_back_to_checkpoints(events: Path, versions: dict[str, int]) -> int:
    """Move each actor's events after its checkpoint (`versions`: actor -> the version
    its checkpoint holds) to `events.discarded.jsonl`; return how many moved.

    An actor whose marker is not in the log (a log from before markers) keeps every event.
    """
    if not events.is_file():
        return 0
    records = read_events(events)
    cut = {actor: _marker(records, actor, version) for actor, version in versions.items()}
    kept: list[dict[str, Any]] = []
    discarded: list[dict[str, Any]] = []
    for index, record in enumerate(records):
        marker = cut.get(record["actor"])
        (discarded if marker is not None and index > marker else kept).append(record)
    if discarded:
        with (events.parent / "events.discarded.jsonl").open("a", encoding="utf-8") as out:
            out.writelines(_line(r) for r in discarded)
    temp = events.with_name(events.name + ".tmp")
    with temp.open("w", encoding="utf-8") as out:
        out.writelines(_line(r) for r in kept)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, events)
    return len(discarded)


def _marker(records: list[dict[str, Any]], actor: str, version: int) -> int | None:
    """The index of `actor`'s last `checkpoint_started` at `version` (None: there is none)."""
    wanted = (actor, "checkpoint_started", version)
    markers = [i for i, r in enumerate(records) if (r["actor"], r["event"], r.get("version")) == wanted]
    return markers[-1] if markers else None


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), default=str) + "\n"
