"""Heartbeats: lost clients are noticed in time, their work is not waited for, and the
children of a lost scheduler find a new parent. On virtual time: exact and seeded."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from actors.liveness import Heartbeats, LivenessConfig
from actors.scheduler import FedBuffEdge, RelayScheduler
from actors.server import FedAsyncServer, FedAvgServer
from tests.sims.built_run import run_and_keep
from topologies.errors import TopologyError
from topologies.load import parse_topology

BEATS = Heartbeats(interval=1.0, liveness=3)
KILLED_AT = 10.0

COMMON = """
name = "liveness-test"
seed = 5
mode = "sim"
[client]
epochs = 1
batch_size = 16
lr = 0.05
[model]
kind = "mlp"
hidden = [16]
[data]
kind = "digits"
partition = { kind = "dirichlet", alpha = 1.0 }
[behaviour.compute]
time = { kind = "uniform", low_s = 1.0, high_s = 3.0 }
"""

FEDASYNC = (
    COMMON
    + """
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedasync"
alpha = 0.5
concurrency = 4
eval_every = 10
[stop]
max_versions = 60
"""
)


def events_of(
    events: list[dict[str, object]], event: str, actor: str | None = None
) -> list[dict[str, object]]:
    return [r for r in events if r["event"] == event and (actor is None or r["actor"] == actor)]


def test_lost_clients_are_noticed_within_liveness_intervals_and_their_tasks_go_to_idle_clients(
    tmp_path: Path,
) -> None:
    killed = ["client-001", "client-004"]
    actors, events = run_and_keep(FEDASYNC, tmp_path, heartbeats=BEATS, kills={KILLED_AT: killed})
    lost = events_of(events, "client_lost", "server")
    assert sorted(r["client"] for r in lost) == killed
    assert {r["reason"] for r in lost} == {"silent"}
    for record in lost:  # noticed within liveness × interval of the death, not before it
        assert 0 < float(record["vt"]) - KILLED_AT <= BEATS.liveness * BEATS.interval  # type: ignore[arg-type]
    # Their tasks were lost with them, and each went to an idle client: all four left
    # still train (but the last to report, whose update ended the run).
    assert all(r["task"] is not None for r in lost)
    server = actors["server"]
    assert isinstance(server, FedAsyncServer)
    alive = {f"client-00{i}" for i in (0, 2, 3, 5)}
    assert set(server.clients) == alive
    last = events_of(events, "update_applied", "server")[-1]["client"]
    assert len(server.in_flight) == 3
    assert set(server.in_flight) | {last} == alive
    late = [
        r for r in events_of(events, "update_applied") if r["client"] in killed and float(r["vt"]) > KILLED_AT
    ]  # type: ignore[arg-type]
    assert late == []
    assert events_of(events, "run_finished")[0]["version"] == 60


FEDAVG = (
    COMMON
    + """
[graph]
template = "star"
clients = 5
[server]
algorithm = "fedavg"
min_clients = 5
[stop]
max_rounds = 6
"""
)


def test_a_fedavg_round_stops_waiting_for_a_lost_client_and_the_next_rounds_sample_the_others(
    tmp_path: Path,
) -> None:
    kills = {KILLED_AT: ["client-002"]}
    with pytest.raises(AssertionError, match="stalled"):  # without heartbeats the round waits forever
        run_and_keep(FEDAVG, tmp_path / "without", kills=kills)
    _, events = run_and_keep(FEDAVG, tmp_path / "with", heartbeats=BEATS, kills=kills)
    (lost,) = events_of(events, "client_lost", "server")
    assert lost["client"] == "client-002"
    assert lost["task"] is not None
    rounds = events_of(events, "round_started", "server")
    assert len(rounds) == 6
    dying = next(r for r in reversed(rounds) if float(r["vt"]) <= KILLED_AT)  # type: ignore[arg-type]
    assert "client-002" in dying["clients"]  # type: ignore[operator]
    applied = Counter(r["round"] for r in events_of(events, "update_applied", "server"))
    assert applied[dying["round"]] == 4  # closed when the loss was noticed, with the four that came
    for later in rounds[rounds.index(dying) + 1 :]:
        assert later["clients"] == ["client-000", "client-001", "client-003", "client-004"]
    assert events_of(events, "run_finished")[0]["version"] == 6


TWO_GROUPS = COMMON + '[graph]\ntemplate = "hierarchy"\ngroups = [3, 3]\n'

HIERARCHY = (
    TWO_GROUPS
    + """
[server]
algorithm = "fedavg"
min_clients = 2
[scheduler]
mode = "hierfavg"
kappa2 = 2
[stop]
max_rounds = 8
"""
)


def test_the_clients_of_a_lost_hierfavg_scheduler_rejoin_its_parent_and_keep_training(tmp_path: Path) -> None:
    actors, events = run_and_keep(HIERARCHY, tmp_path, heartbeats=BEATS, kills={KILLED_AT: ["sched-0"]})
    orphans = ["client-000", "client-001", "client-002"]
    moved = events_of(events, "parent_lost")
    assert sorted(r["actor"] for r in moved) == orphans
    assert {(r["parent"], r["joins"]) for r in moved} == {("sched-0", "server")}
    for record in moved:
        assert 0 < float(record["vt"]) - KILLED_AT <= BEATS.liveness * BEATS.interval  # type: ignore[arg-type]
    assert [r["client"] for r in events_of(events, "client_lost", "server")] == ["sched-0"]
    server = actors["server"]
    assert isinstance(server, FedAvgServer)
    assert sorted(server.clients) == [*orphans, "sched-1"]
    # The server weighs each orphan by its own samples now, and takes its updates.
    after = [r for r in events_of(events, "update_applied", "server") if float(r["vt"]) > KILLED_AT]  # type: ignore[arg-type]
    assert {r["client"] for r in after} == {*orphans, "sched-1"}
    assert events_of(events, "run_finished")[0]["version"] == 8


RELAYS = HIERARCHY.replace('mode = "hierfavg"\nkappa2 = 2', 'mode = "relay"')


def test_the_clients_of_a_lost_relay_rejoin_the_server_directly(tmp_path: Path) -> None:
    actors, events = run_and_keep(RELAYS, tmp_path, heartbeats=BEATS, kills={KILLED_AT: ["sched-1"]})
    orphans = ["client-003", "client-004", "client-005"]
    assert sorted(r["actor"] for r in events_of(events, "parent_lost")) == orphans
    lost = events_of(events, "client_lost", "server")
    assert sorted(r["client"] for r in lost) == orphans  # lost with their relay ...
    assert {r["reason"] for r in lost} == {"relay_lost"}
    server = actors["server"]
    assert isinstance(server, FedAvgServer)
    assert sorted(server.clients) == [f"client-00{i}" for i in range(6)]  # ... and back, directly
    assert server.via == {f"client-00{i}": "sched-0" for i in range(3)}
    relay = actors["sched-0"]
    assert isinstance(relay, RelayScheduler)
    assert events_of(events, "run_finished")[0]["version"] == 8


ASYNC_FALLBACK = (
    TWO_GROUPS
    + """
[server]
algorithm = "fedasync"
alpha = 0.5
eval_every = 5
[scheduler]
mode = "async"
push_every = 2
[scheduler.edge]
algorithm = "fedbuff"
buffer_size = 2
[liveness]
fallback = { "sched-0" = "sched-1" }
[stop]
max_versions = 30
"""
)


def test_a_declared_fallback_scheduler_adopts_the_clients_of_a_lost_one(tmp_path: Path) -> None:
    actors, events = run_and_keep(ASYNC_FALLBACK, tmp_path, heartbeats=BEATS, kills={KILLED_AT: ["sched-0"]})
    orphans = ["client-000", "client-001", "client-002"]
    moved = events_of(events, "parent_lost")
    assert {(r["actor"], r["parent"], r["joins"]) for r in moved} == {
        (c, "sched-0", "sched-1") for c in orphans
    }
    edge = actors["sched-1"]
    assert isinstance(edge, FedBuffEdge)
    assert sorted(edge.group.clients) == [f"client-00{i}" for i in range(6)]
    after = [r for r in events_of(events, "update_applied", "sched-1") if float(r["vt"]) > KILLED_AT]  # type: ignore[arg-type]
    assert {r["client"] for r in after} >= set(orphans)
    assert [r["client"] for r in events_of(events, "client_lost", "server")] == ["sched-0"]
    assert events_of(events, "run_finished")[0]["version"] == 30


@pytest.mark.parametrize(
    ("fallback", "message"),
    [
        ('{ "client-000" = "server" }', "'client-000' is not a scheduler"),
        ('{ "sched-0" = "client-004" }', "'client-004' is not a scheduler or the server"),
        ('{ "sched-0" = "sched-0" }', "'sched-0' is 'sched-0' or one below it"),
    ],
)
def test_a_fallback_that_cannot_adopt_is_refused_naming_the_field(fallback: str, message: str) -> None:
    text = HIERARCHY + f"[liveness]\nfallback = {fallback}\n"
    with pytest.raises(TopologyError, match=r"liveness\.fallback") as caught:
        parse_topology(text)
    assert message in str(caught.value)


def test_liveness_settings_are_wall_seconds_stretched_by_the_time_scale() -> None:
    assert LivenessConfig().on_clock(0.5) == Heartbeats(interval=2.0, liveness=5)
    assert LivenessConfig(enabled=False).on_clock(1.0) is None
    with pytest.raises(ValueError, match="liveness"):
        LivenessConfig(liveness=2)
