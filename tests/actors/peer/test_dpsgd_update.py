"""D-PSGD is Lian et al. 2017 Alg. 1; `atc` is adapt-then-combine: both against a numpy replay.

With f_i(x) = ½‖x − c_i‖² and one SGD step of size γ per round, the rows of
X (one peer each) evolve, by hand from each algorithm's update:

    dpsgd  X ← W X − γ (X − C)          gradient at the peer's own pre-mix model
    atc    X ← W (X − γ (X − C))        mix the trained models
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch

from actors import Node
from actors.clock import LoopClock
from actors.peer import DpsgdConfig, DpsgdPeer
from actors.statedict import StateDict
from sims.virtual_time import run_virtual
from tests.actors.peer.quadratic import QuadraticTrainer, as_row
from tests.actors.peer.test_dpsgd import Collector

LR = 0.3
RING_5 = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)]
# Degrees 3, 2, 3, 1, 1: Metropolis–Hastings weights differ on every edge.
IRREGULAR = [(0, 1), (0, 2), (1, 2), (2, 3), (0, 4)]


def metropolis_hastings(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
    """W_ij = 1 / (1 + max(d_i, d_j)) on edges, W_ii = 1 − Σ_j W_ij."""
    degree = np.zeros(n, dtype=int)
    for i, j in edges:
        degree[i] += 1
        degree[j] += 1
    w = np.zeros((n, n))
    for i, j in edges:
        w[i, j] = w[j, i] = 1.0 / (1 + max(degree[i], degree[j]))
    w[np.diag_indices(n)] = 1.0 - w.sum(axis=1)
    return w


def model(seed: int) -> StateDict:
    generator = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(2, 3, generator=generator, dtype=torch.float64)}


async def _run(algorithm: str, w: np.ndarray, rounds: int) -> dict[str, StateDict]:
    n = len(w)
    names = [f"p{i}" for i in range(n)]
    node = Node("gossip", clock=LoopClock())
    collector = Collector(names, stop_after=rounds)
    node.spawn(collector, "collector")
    for i, name in enumerate(names):
        row = {names[j]: float(w[i, j]) for j in range(n) if w[i, j] > 0}
        trainer = QuadraticTrainer(model(100 + i), LR)
        node.spawn(DpsgdPeer(DpsgdConfig(algorithm=algorithm), trainer, row, model(i), "collector"), name)
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await collector.done.wait()
        node.stop()
    return collector.reports[rounds]


def replay(algorithm: str, w: np.ndarray, rounds: int) -> np.ndarray:
    x = np.stack([as_row(model(i)).numpy() for i in range(len(w))])
    c = np.stack([as_row(model(100 + i)).numpy() for i in range(len(w))])
    for _ in range(rounds):
        x = w @ x - LR * (x - c) if algorithm == "dpsgd" else w @ (x - LR * (x - c))
    return x


@pytest.mark.parametrize("algorithm", ["dpsgd", "atc"])
@pytest.mark.parametrize("edges", [RING_5, IRREGULAR], ids=["ring_of_5", "irregular"])
@pytest.mark.parametrize("rounds", [1, 3])
def test_peers_after_some_rounds_hold_the_numpy_replay_of_their_algorithms_update(
    algorithm: str, edges: list[tuple[int, int]], rounds: int
) -> None:
    w = metropolis_hastings(5, edges)

    reports = run_virtual(_run(algorithm, w, rounds))

    expected = replay(algorithm, w, rounds)
    for i in range(5):
        np.testing.assert_allclose(as_row(reports[f"p{i}"]).numpy(), expected[i], rtol=0, atol=1e-12)


def test_lian_and_adapt_then_combine_differ_after_one_round() -> None:
    w = metropolis_hastings(5, RING_5)

    gap = np.abs(replay("dpsgd", w, 1) - replay("atc", w, 1)).max()

    assert gap > 0.01  # the replays tell the two orders apart
