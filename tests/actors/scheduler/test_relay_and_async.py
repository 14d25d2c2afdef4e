"""Relay schedulers are transparent; asynchronous edges lose no update; schedulers nest."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from actors.relays import relay_rejection
from actors.scheduler import FedAsyncEdge, HierFavgScheduler, RelayScheduler
from actors.server import FedAvgServer
from tests.actors.scheduler.test_hierfavg import COMMON
from tests.sims.built_run import run_and_keep

STAR = (
    COMMON
    + """
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedavg"
min_clients = 6
"""
)

RELAYS = (
    COMMON
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 4, 6]
[server]
algorithm = "fedavg"
min_clients = 6
[scheduler]
mode = "relay"
"""
)


def test_two_levels_of_relays_give_exactly_the_stars_fedavg_model(tmp_path: Path) -> None:
    star, _ = run_and_keep(STAR, tmp_path / "star")
    relayed, events = run_and_keep(RELAYS, tmp_path / "relay")
    server = relayed["server"]
    assert isinstance(server, FedAvgServer)
    assert isinstance(star["server"], FedAvgServer)
    # The server saw the six clients as its own, each through its top relay.
    assert sorted(server.clients) == [f"client-00{i}" for i in range(6)]
    assert set(server.via.values()) == {"sched-0", "sched-1"}
    for key, value in star["server"].params.items():
        assert torch.equal(value, server.params[key]), key
    relays = [a for a in relayed.values() if isinstance(a, RelayScheduler)]
    assert len(relays) == 6
    applied = Counter(r["client"] for r in events if r["event"] == "update_applied")
    assert applied == {f"client-00{i}": 3 for i in range(6)}


ASYNC_EDGES = (
    COMMON.replace("max_rounds = 3", "max_versions = 12")
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 6]
[server]
algorithm = "fedasync"
alpha = 0.5
eval_every = 4
[scheduler]
mode = "async"
push_every = 3
[scheduler.edge]
algorithm = "fedasync"
alpha = 0.6
[behaviour.compute]
time = { kind = "uniform", low_s = 1.0, high_s = 3.0 }
"""
)


def test_async_edges_push_every_n_versions_and_every_push_is_applied_once(tmp_path: Path) -> None:
    actors, events = run_and_keep(ASYNC_EDGES, tmp_path / "async")
    edges = sorted(n for n, a in actors.items() if isinstance(a, FedAsyncEdge))
    assert edges == ["sched-0", "sched-1"]

    def count(event: str) -> Counter[str]:
        return Counter(r["actor"] for r in events if r["event"] == event)

    at_server = [r for r in events if r["actor"] == "server" and r["event"].startswith("update_")]
    assert {r["event"] for r in at_server} == {"update_applied"}  # no push lost or refused
    assert Counter(r["client"] for r in at_server) == count("edge_pushed") == {"sched-0": 6, "sched-1": 6}
    # push_every = 3: each push carries exactly three edge versions made from group updates.
    assert count("edge_updated") == {"sched-0": 18, "sched-1": 18}
    # Every applied push brings a new task (a rebase), except the one that ended the run.
    assert sum(count("edge_rebased").values()) == 12 - 1
    # Staleness per level, deterministic under the seed: edges against the server's versions ...
    assert [(r["client"], r["staleness"]) for r in at_server] == [
        ("sched-1", 0), ("sched-0", 1), ("sched-1", 1), ("sched-0", 1), ("sched-1", 1), ("sched-0", 1),
        ("sched-1", 1), ("sched-0", 1), ("sched-1", 1), ("sched-0", 1), ("sched-0", 0), ("sched-1", 2),
    ]  # fmt: skip
    # ... and clients against their edge's versions (recorded by the edge).
    at_edges = [r for r in events if r["event"] == "update_applied" and r["actor"] in edges]
    assert {r["client"][:7] for r in at_edges} == {"client-"}
    assert max(r["staleness"] for r in at_edges) > 0


NESTED = (
    COMMON.replace("max_rounds = 3", "max_rounds = 2")
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 4, 8]
[server]
algorithm = "fedavg"
[scheduler]
mode = "hierfavg"
kappa2 = 2
"""
)


def test_hierfavg_schedulers_nest_three_levels_deep(tmp_path: Path) -> None:
    actors, events = run_and_keep(NESTED, tmp_path / "nested")
    top = actors["sched-0"]
    assert isinstance(top, HierFavgScheduler)
    assert sorted(top.group.clients) == ["sched-0-0", "sched-0-1"]
    # 2 server rounds x κ2 = 2 top edge rounds x κ2 = 2 lower edge rounds = 8 tasks per client
    trained = Counter(r["actor"] for r in events if r["event"] == "task_trained")
    assert trained == {f"client-00{i}": 8 for i in range(8)}
    assert actors["server"].version == 2  # type: ignore[attr-defined]


def test_each_relay_speaks_only_for_its_own_subtree_and_a_stranger_for_nobody(tmp_path: Path) -> None:
    relayed, events = run_and_keep(RELAYS, tmp_path / "relay")
    server = relayed["server"]
    assert isinstance(server, FedAvgServer)
    relays = server.deps.relays
    assert relays is not None

    below = {relay: sorted(children) for relay, children in relays.items()}
    refusals = [
        (r.reason if (r := relay_rejection(relays, relay, child)) else None)
        for relay, child in [
            ("evil-relay", "client-000"),
            ("sched-0-0", "client-001"),
            ("sched-0-0", "client-002"),
        ]
    ]

    assert below == {  # every relay of the graph is below the server, each with its own subtree
        "sched-0": ["client-000", "client-001", "client-002", "client-003", "sched-0-0", "sched-0-1"],
        "sched-0-0": ["client-000", "client-001"],
        "sched-0-1": ["client-002", "client-003"],
        "sched-1": ["client-004", "client-005", "sched-1-0", "sched-1-1"],
        "sched-1-0": ["client-004"],
        "sched-1-1": ["client-005"],
    }
    assert refusals == ["unknown_relay", None, "not_behind_relay"]
    assert not [e for e in events if e["event"] == "update_dropped"]  # the honest run lost nothing
