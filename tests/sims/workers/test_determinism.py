"""Training on workers changes nothing: the same events, byte for byte, and the same weights."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from actors.actor import Actor
from sims.workers.pool import WorkerPool
from sims.workers.start import start_local
from tests.sims.built_run import run_and_keep
from tests.sims.workers.topologies import ALL

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    workers = WorkerPool(2, start_local(tmp_path_factory.mktemp("worker-logs")))
    workers.start()
    yield workers
    workers.close()


def events_without_wall_time(out: Path) -> list[str]:
    lines = []
    for line in (out / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        del record["t"]
        lines.append(json.dumps(record))
    return lines


def final_weights(actors: dict[str, Actor]) -> dict[str, dict[str, torch.Tensor]]:
    return {name: dict(actor.params) for name, actor in actors.items() if hasattr(actor, "params")}


def assert_same_bits(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    for key in first:
        assert first[key].dtype == second[key].dtype
        assert torch.equal(first[key].view(torch.uint8), second[key].view(torch.uint8)), key


def assert_pool_trains_as_inline(text: str, pool: WorkerPool, out: Path) -> None:
    """`text` run on `pool` writes the events and ends with the weights of an inline run, bit for bit."""
    inline_actors, _ = run_and_keep(text, out / "inline")
    pooled_actors, events = run_and_keep(text, out / "pooled", pool=pool)

    assert events_without_wall_time(out / "pooled") == events_without_wall_time(out / "inline")
    inline, pooled = final_weights(inline_actors), final_weights(pooled_actors)
    assert inline.keys() == pooled.keys()
    assert inline
    for actor in inline:
        assert_same_bits(inline[actor], pooled[actor])
    trained = sum(1 for e in events if e["event"] == "task_trained")
    assert pool.statistics().jobs_done >= trained > 0  # counted since this run's prepare: they trained it


@pytest.mark.parametrize("name", sorted(ALL))
def test_two_workers_give_the_events_and_weights_of_inline_training(
    name: str, pool: WorkerPool, tmp_path: Path
) -> None:
    assert_pool_trains_as_inline(ALL[name], pool, tmp_path)
