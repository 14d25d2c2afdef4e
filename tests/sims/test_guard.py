"""The guard: a simulation ends at its bounds whatever its actors do (issue 16's livelock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.metrics import ListSink, Record
from actors.server.stop import StopConfig
from sims.guard import MIN_STALL_EVENTS, RunGuard, stall_events
from sims.results import read_events
from sims.simulate import simulate
from sims.virtual_time import run_virtual
from topologies.load import TopologyFileError, load_topology
from topologies.spec import RunSpec

LIVELOCK = Path(__file__).parent / "data" / "livelock.toml"


def looping_livelock(stop: str | None = None) -> RunSpec:
    """The livelock file as it ran before `validate` refused it: no edge task timeout."""
    overrides = ["scheduler.edge.task_timeout_s=30", *([stop] if stop else [])]
    spec = load_topology(LIVELOCK, overrides)
    assert spec.scheduler is not None
    edge = spec.scheduler.edge.model_copy(update={"task_timeout_s": None})  # type: ignore[union-attr]
    return spec.model_copy(update={"scheduler": spec.scheduler.model_copy(update={"edge": edge})})


def record(actor: str, event: str, **fields: object) -> Record:
    return {"t": 0.0, "vt": 0.0, "node": "sim", "actor": actor, "event": event, **fields}


def test_validate_refuses_the_livelock_file_naming_the_missing_edge_timeout() -> None:
    with pytest.raises(TopologyFileError) as caught:
        load_topology(LIVELOCK)

    assert "set scheduler.edge.task_timeout_s" in str(caught.value)


def test_validate_refuses_a_synchronous_hierarchy_with_drops_and_no_edge_round_deadline() -> None:
    with pytest.raises(TopologyFileError) as caught:
        load_topology(LIVELOCK, ['scheduler={mode="hierfavg"}'])

    assert "set scheduler.round_deadline_s" in str(caught.value)


def test_the_livelock_file_with_an_edge_timeout_ends_within_its_max_time(tmp_path: Path) -> None:
    spec = load_topology(LIVELOCK, ["scheduler.edge.task_timeout_s=30"])

    reason = simulate(spec, tmp_path)

    events = read_events(tmp_path / "events.jsonl")
    assert reason == "max_time_s"
    assert max(r["vt"] for r in events if r["event"] == "run_finished") <= 600.0


@pytest.mark.slow
def test_max_time_s_ends_a_simulation_that_loops_without_new_versions(tmp_path: Path) -> None:
    spec = looping_livelock()

    reason = simulate(spec, tmp_path)

    events = read_events(tmp_path / "events.jsonl")
    finished = [r for r in events if r["event"] == "run_finished"]
    assert reason == "max_time_s"
    assert [(r["actor"], r["vt"], r["reason"]) for r in finished] == [("guard", 600.0, "max_time_s")]
    assert max(r["vt"] for r in events) == 600.0


@pytest.mark.slow
def test_a_simulation_that_loops_with_no_time_bound_ends_as_stalled_naming_the_server(tmp_path: Path) -> None:
    spec = looping_livelock("stop={max_versions=100000}")

    reason = simulate(spec, tmp_path)

    (finished,) = [r for r in read_events(tmp_path / "events.jsonl") if r["event"] == "run_finished"]
    assert reason == "stalled"
    assert (finished["looping_actor"], finished["looping_event"]) == ("server", "task_expired")
    assert finished["events"] == stall_events(106)


def test_the_guard_names_the_actor_with_most_events_since_the_last_version() -> None:
    sink, ends = ListSink(), []
    guard = RunGuard(StopConfig(max_versions=10), sink, ends.append, actors=3)

    async def feed() -> None:
        guard.on_record(record("server", "model_updated", version=1))
        for i in range(MIN_STALL_EVENTS):
            guard.on_record(
                record("edge-1" if i % 3 else "edge-2", "edge_rebased" if i % 2 else "task_expired")
            )

    run_virtual(feed())

    (finished,) = sink.of("run_finished")
    assert ends == ["stalled"]
    assert (finished["looping_actor"], finished["version"], finished["events"]) == ("edge-1", 1, 10_000)
    assert "'edge-1' loops (6666 of them" in finished["message"]


def test_a_new_version_resets_the_stall_count() -> None:
    sink, ends = ListSink(), []
    guard = RunGuard(StopConfig(max_versions=10), sink, ends.append, actors=3)

    async def feed() -> None:
        for version in (1, 2):
            guard.on_record(record("server", "model_updated", version=version))
            for _ in range(MIN_STALL_EVENTS - 1):
                guard.on_record(record("client-1", "task_trained"))

    run_virtual(feed())

    assert ends == []


def test_a_version_past_max_versions_ends_the_run_even_if_the_server_goes_on() -> None:
    sink, ends = ListSink(), []
    guard = RunGuard(StopConfig(max_versions=2), sink, ends.append, actors=3)

    async def feed() -> None:
        for version in (1, 2, 3, 4):
            guard.on_record(record("server", "model_updated", version=version))

    run_virtual(feed())

    assert ends == ["max_versions"]
    assert [r["version"] for r in sink.of("run_finished")] == [3]


def test_the_stall_bound_grows_with_the_number_of_actors() -> None:
    assert (stall_events(3), stall_events(1001)) == (10_000, 100_100)
