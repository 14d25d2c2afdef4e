"""Pairwise gossip under overlapping exchanges: a busy peer refuses, every completed
exchange averages the two models as they were when it was agreed, sums are conserved."""

from __future__ import annotations

import asyncio
import random

import torch

from actors import Node
from actors.client.behaviour import WorkPlan
from actors.clock import LoopClock
from actors.metrics import ListSink
from actors.peer import PairwisePeer, consensus_distance
from actors.peer.pairwise import PairwiseConfig
from actors.statedict import StateDict
from sims.virtual_time import run_virtual
from tests.actors.peer.identity import IdentityTrainer


class Every:
    """Local work takes `compute_s` each time (or a seeded uniform draw in [low, high])."""

    def __init__(self, compute_s: float, high_s: float | None = None, seed: int = 0) -> None:
        self.low, self.high = compute_s, high_s
        self.rng = random.Random(seed)

    def plan(self, now: float, num_samples: int, epochs: int | None, deadline_s: float | None) -> WorkPlan:
        return WorkPlan(self.low if self.high is None else self.rng.uniform(self.low, self.high))


class Latency:
    """Every message takes `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def arrival(self, sender: str, receiver: str, nbytes: int, now: float) -> float:
        return now + self.seconds


def vector(*values: float) -> StateDict:
    return {"w": torch.tensor(values, dtype=torch.float64)}


async def _run_peers(
    graph: dict[str, list[str]],
    models: dict[str, StateDict],
    behaviours: dict[str, Every],
    until_s: float,
    latency_s: float = 0.0,
) -> tuple[dict[str, PairwisePeer], ListSink]:
    sink = ListSink()
    node = Node("gossip", clock=LoopClock(), sink=sink, links=Latency(latency_s) if latency_s else None)
    peers = {}
    for seed, (name, neighbours) in enumerate(sorted(graph.items())):
        trainer = IdentityTrainer(1)
        peer = PairwisePeer(PairwiseConfig(), trainer, neighbours, models[name], seed, behaviours[name])
        node.spawn(peer, name)
        peers[name] = peer
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await node.clock.sleep(until_s)
        node.stop()
    return peers, sink


def test_two_peers_asking_each_other_at_the_same_instant_both_refuse_and_keep_their_models() -> None:
    graph = {"a": ["b"], "b": ["a"]}
    models = {"a": vector(0.0, 0.0), "b": vector(4.0, 8.0)}

    peers, sink = run_virtual(_run_peers(graph, models, {"a": Every(1.0), "b": Every(1.0)}, until_s=1.5))

    assert torch.equal(peers["a"].params["w"], models["a"]["w"])  # not swapped, not half-moved
    assert torch.equal(peers["b"].params["w"], models["b"]["w"])
    assert sorted((r["actor"], r["neighbour"], r["vt"]) for r in sink.of("gossip_refused")) == [
        ("a", "b", 1.0),
        ("b", "a", 1.0),
    ]
    assert sink.of("gossip_exchanged") == []


def test_overlapping_asks_with_latency_end_at_one_exact_average_not_three_quarters_of_the_way() -> None:
    graph = {"a": ["b"], "b": ["a"]}
    models = {"a": vector(0.0), "b": vector(4.0)}
    behaviours = {"a": Every(1.0), "b": Every(1.05)}  # asks 0.05 s apart, each 0.1 s in flight

    peers, sink = run_virtual(_run_peers(graph, models, behaviours, until_s=1.5, latency_s=0.1))

    # a's ask reaches b at 1.1, while b's own ask (sent 1.05) is in flight: b refuses.
    # b's ask reaches a at 1.15, after a's exchange ended: a takes it, both at (0 + 4)/2.
    assert [r["actor"] for r in sink.of("gossip_refused")] == ["a"]
    assert [r["actor"] for r in sink.of("gossip_exchanged")] == ["b"]
    assert peers["a"].params["w"].tolist() == [2.0]  # the old code: 0 + 0.75·(4 − 0) = 3
    assert peers["b"].params["w"].tolist() == [2.0]


def test_two_asks_of_one_idle_peer_are_taken_one_after_the_other_each_an_exact_average() -> None:
    # a — b — c: a asks b at 1.0, c asks b at 1.05 (arrive 1.1 and 1.15); b works until 5
    # (replies come back without the link model's latency).
    graph = {"a": ["b"], "b": ["a", "c"], "c": ["b"]}
    models = {"a": vector(0.0), "b": vector(4.0), "c": vector(10.0)}
    behaviours = {"a": Every(1.0), "b": Every(5.0), "c": Every(1.05)}

    peers, sink = run_virtual(_run_peers(graph, models, behaviours, until_s=1.5, latency_s=0.1))

    # By hand: b ← (0 + 4)/2 = 2 and a ← 2; then b ← (10 + 2)/2 = 6 and c ← 6.
    assert [peers[p].params["w"].item() for p in "abc"] == [2.0, 6.0, 6.0]
    assert sum(peers[p].params["w"].item() for p in "abc") == 14.0  # the sum is conserved
    assert [r["actor"] for r in sink.of("gossip_exchanged")] == ["a", "c"]


def test_a_ring_of_five_with_latency_conserves_the_sum_and_reaches_consensus_in_200_seconds() -> None:
    names = [f"p{i}" for i in range(5)]
    graph = {n: [names[(i - 1) % 5], names[(i + 1) % 5]] for i, n in enumerate(names)}
    models = {n: vector(float(10 * i), float(-3 * i * i)) for i, n in enumerate(names)}
    behaviours = {n: Every(0.5, 1.5, seed=i) for i, n in enumerate(names)}
    start_sum = sum(m["w"] for m in models.values())

    peers, sink = run_virtual(_run_peers(graph, models, behaviours, until_s=200.0, latency_s=0.05))

    final = [peers[n].params for n in names]
    assert torch.allclose(sum(m["w"] for m in final), start_sum, rtol=0, atol=1e-9)
    _, first = consensus_distance(list(models.values()))
    _, distance = consensus_distance(final)
    assert distance < 1e-6 * first
    assert len(sink.of("gossip_exchanged")) > 100
    assert sink.of("gossip_failed") == []
