"""Compressed gossip and relayed messages end to end, on virtual time: bytes are each scheme's formula."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sims.results import read_events, summarize
from sims.simulate import simulate
from tests.sims.sizes import DENSE, FP16, QSGD4, QSGD8, TOPK10
from topologies.errors import TopologyError
from topologies.load import parse_topology

COMMON = """
name = "compressed"
seed = 2
mode = "sim"
[client]
steps = 1
batch_size = 16
[model]
kind = "logreg"
[data]
kind = "digits"
partition = { kind = "iid" }
"""
DPSGD = (
    COMMON
    + """
[graph]
template = "ring"
peers = 4
[peer]
algorithm = "dpsgd"
gossip_steps = 2
[stop]
max_rounds = 3
[compression]
peer = { kind = "qsgd", bits = 8 }
"""
)
PAIRWISE = (
    COMMON
    + """
[graph]
template = "ring"
peers = 4
[peer]
algorithm = "pairwise"
eval_every_s = 2.0
[behaviour.compute]
time = { kind = "lognormal", median_s = 1.0, sigma = 0.5 }
[stop]
max_time_s = 10
[compression]
peer = { kind = "fp16" }
"""
)
RELAYS = (
    COMMON
    + """
[graph]
template = "hierarchy"
levels = [1, 2, 4]
[server]
algorithm = "fedbuff"
buffer_size = 2
[scheduler]
mode = "relay"
[behaviour.compute]
time = { kind = "constant", seconds = 1.0 }
[stop]
max_versions = 3
[compression]
client = { uplink = { kind = "topk", fraction = 0.1 }, downlink = { kind = "fp16" } }
scheduler = { uplink = { kind = "qsgd", bits = 8 }, downlink = { kind = "qsgd", bits = 4 } }
"""
)


def _run(tmp_path: Path, text: str, name: str = "run") -> list[dict[str, Any]]:
    out = tmp_path / name
    out.mkdir()
    simulate(parse_topology(text), out)
    return read_events(out / "events.jsonl")


def _sent(events: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (r["kind"], r["scheme"], r["bytes"], r["dense_bytes"])
        for r in events
        if r["event"] == "message_compressed"
    }


def _same(runs: list[list[dict[str, Any]]]) -> bool:
    first, second = ([json.dumps({k: v for k, v in r.items() if k != "t"}) for r in run] for run in runs)
    return first == second


def test_dpsgd_peers_send_8_bit_qsgd_models_and_count_their_compressed_bytes(tmp_path: Path) -> None:
    runs = [_run(tmp_path, DPSGD, name) for name in ("a", "b")]

    events = runs[0]
    rounds = [r for r in events if r["event"] == "gossip_round"]
    summary = summarize(events)
    assert _sent(events) == {("gossip.model", "qsgd", QSGD8, DENSE)}
    assert {r["bytes"] for r in rounds} == {2 * 2 * DENSE}  # 2 neighbours x 2 gossip steps, dense
    assert summary["bytes_up"] == len(rounds) * 2 * 2 * QSGD8
    assert summary["bytes_up_dense"] == len(rounds) * 2 * 2 * DENSE
    assert summary["compression"]["gossip"]["ratio"] == pytest.approx(QSGD8 / DENSE)
    assert summary["compression"]["uplink"]["messages"] == 0
    assert len(rounds) >= 4 * 3
    assert _same(runs)


def test_pairwise_peers_push_and_pull_fp16_models_and_count_their_compressed_bytes(tmp_path: Path) -> None:
    runs = [_run(tmp_path, PAIRWISE, name) for name in ("a", "b")]

    events = runs[0]
    exchanged = [r for r in events if r["event"] == "gossip_exchanged"]
    sent = [r for r in events if r["event"] == "message_compressed"]
    assert _sent(events) == {("gossip.push_pull", "fp16", FP16, DENSE)}
    assert exchanged
    assert len(sent) >= 2 * len(exchanged)  # each exchange's push and its reply (refused pushes too)
    assert summarize(events)["bytes_up"] == len(exchanged) * 2 * FP16
    assert _same(runs)


def test_relayed_tasks_and_updates_travel_compressed_on_each_hop(tmp_path: Path) -> None:
    runs = [_run(tmp_path, RELAYS, name) for name in ("a", "b")]

    events = runs[0]
    sent = [r for r in events if r["event"] == "message_compressed"]
    by_hop = {(r["actor"].split("-")[0], r["kind"], r["bytes"], "child" in r) for r in sent}
    summary = summarize(events)
    assert by_hop == {
        ("client", "fl.update", TOPK10, False),
        ("sched", "fl.update", QSGD8, True),  # relay -> server, for its child
        ("server", "fl.task", QSGD4, True),  # server -> relay, for the child
        ("sched", "fl.task", FP16, False),  # relay -> client
    }
    assert {r["dense_bytes"] for r in sent} == {DENSE}
    assert summary["updates_applied"] >= 6
    assert summary["bytes_up"] == summary["updates_applied"] * QSGD8  # as the last hop carried them
    assert summary["bytes_down"] == summary["updates_applied"] * QSGD4
    assert _same(runs)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('peer = { kind = "topk" }', "compression.peer.kind: topk needs deltas, and gossip peers exchange"),
        ('client = { uplink = { kind = "fp16" } }', "compression.client: a gossip graph has no clients"),
        (
            'edges = [{ source = "peer-000", target = "peer-002", downlink = { kind = "fp16" } }]',
            r"compression.edges\[0\]: peer-000 -> peer-002 is not an edge of the graph",
        ),
    ],
)
def test_a_gossip_graph_refuses_compression_it_cannot_run(table: str, message: str) -> None:
    text = DPSGD.replace('peer = { kind = "qsgd", bits = 8 }', table)

    with pytest.raises(TopologyError, match=message):
        parse_topology(text)


def test_a_gossip_edge_overrides_the_peers_scheme_named_either_way_round(tmp_path: Path) -> None:
    text = DPSGD.replace(
        'peer = { kind = "qsgd", bits = 8 }',
        'peer = { kind = "qsgd", bits = 8 }\n'
        'edges = [{ source = "peer-001", target = "peer-000", downlink = { kind = "fp16" } }]',
    )

    events = _run(tmp_path, text)

    edges = {(r["actor"], r["receiver"], r["bytes"]) for r in events if r["event"] == "message_compressed"}
    assert ("peer-001", "peer-000", FP16) in edges
    assert ("peer-000", "peer-001", DENSE) not in edges  # uplink unset on that edge: sent as it is
    assert not any(a == "peer-000" and b == "peer-001" for a, b, _ in edges)
    assert ("peer-000", "peer-003", QSGD8) in edges
    per_round = {"peer-000": DENSE + QSGD8, "peer-001": FP16 + QSGD8}  # a step: one model a neighbour
    rounds = [r["actor"] for r in events if r["event"] == "gossip_round"]
    expected = sum(2 * per_round.get(actor, 2 * QSGD8) for actor in rounds)  # 2 gossip steps a round
    assert summarize(events)["bytes_up"] == expected
