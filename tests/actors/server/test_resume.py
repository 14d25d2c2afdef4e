"""A server or edge restored from its checkpoint is the one that wrote it, and goes on bit for bit.

A FedBuff server with FedAdam runs on one node with fixed-update clients and
checkpoints every version; a fresh server restored from the file must hold
the same state (model, version, Adam moments, buffer, generator, clients,
task ids) and turn the same next updates into the same models.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from actors import Node
from actors.metrics import ListSink
from actors.protocol import Task, Update
from actors.scheduler import AsyncEdgeConfig, FedBuffEdge
from actors.server.base import ServerDeps
from actors.server.checkpoint import CheckpointConfig, Checkpointer, read_checkpoint
from actors.server.errors import CheckpointError
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.fedbuff import FedBuffConfig, FedBuffServer
from actors.server.groups import async_group
from actors.server.optimizers import FedAdamConfig
from actors.statedict import StateDict
from actors.testing import FixedTrainer
from tests.actors.server.test_checkpoint import assert_same_tree
from tests.actors.server.test_servers import run_star, weights

FEDBUFF = FedBuffConfig(buffer_size=3, concurrency=2, optimizer=FedAdamConfig(lr=0.05))


def initial() -> StateDict:
    return {"w": torch.tensor([0.0], dtype=torch.float64)}


def checkpointer(directory: Path, resume: bool = False) -> Checkpointer:
    config = CheckpointConfig(every_versions=1, every_s=0, directory=str(directory), resume=resume)
    return Checkpointer(config, "server")


def delta(value: float, task_id: int, base_version: int) -> Update:
    return Update(
        task_id, base_version, {"w": torch.tensor([value], dtype=torch.float64)}, True, 10, 0.5, 1.0
    )


def without_run_time(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "elapsed_s"}


async def test_a_restored_fedbuff_server_holds_the_checkpointed_state_and_continues_bit_for_bit(
    tmp_path: Path,
) -> None:
    trainers = [FixedTrainer(weights(v), 10) for v in (1.0, -2.0, 4.0, 0.5)]
    original, sink = await run_star(
        lambda deps: FedBuffServer(
            FEDBUFF, initial(), replace(deps, seed=5, checkpoint=checkpointer(tmp_path))
        ),
        trainers,
        max_versions=4,
    )
    await original.apply("client-1", delta(0.25, 99, 4), 0)  # one delta waits in the buffer
    checkpointer(tmp_path).write(original.state())

    restored = FedBuffServer(
        FEDBUFF, initial(), ServerDeps(None, None, seed=5, checkpoint=checkpointer(tmp_path, True))
    )
    resumed = restored.resume()
    Node("n2", sink=ListSink()).spawn(restored, "server")
    states = [without_run_time(s.state()) for s in (original, restored)]
    for step in range(8):  # 1 + 8 deltas in buffers of 3: versions 5, 6 and 7
        client, value = f"client-{step % 4}", 0.1 * (step + 1)
        for server in (original, restored):
            await server.apply(client, delta(value, 100 + step, server.version), 1)

    assert resumed
    assert [r["version"] for r in sink.of("checkpoint_written")] == [1, 2, 3, 4, 5, 6, 7]
    assert states[1]["version"] == 4
    assert len(states[1]["buffer"]) == 1
    assert_same_tree(states[1], states[0])
    assert original.version == restored.version == 7
    assert_same_tree(restored.params, original.params)
    assert_same_tree(restored.optimizer.state_dict(), original.optimizer.state_dict())
    assert [restored.rng.random() for _ in range(3)] == [original.rng.random() for _ in range(3)]


async def test_a_restored_server_hands_out_task_ids_after_the_checkpointed_ones(tmp_path: Path) -> None:
    trainers = [FixedTrainer(weights(1.0), 10), FixedTrainer(weights(2.0), 10)]
    config = FedAsyncConfig(alpha=0.5)
    original, sink = await run_star(
        lambda deps: FedAsyncServer(config, initial(), replace(deps, checkpoint=checkpointer(tmp_path))),
        trainers,
        max_versions=6,
    )

    saved = read_checkpoint(tmp_path / "server.ckpt")
    restored = FedAsyncServer(
        config, initial(), ServerDeps(None, None, checkpoint=checkpointer(tmp_path, True))
    )
    restored.resume()

    assert saved["version"] == 6
    assert sink.of("checkpoint_written")[-1] == {
        **sink.of("checkpoint_written")[-1],
        "version": 6,
        "bytes": (tmp_path / "server.ckpt").stat().st_size,
    }
    assert saved["clients"] == {"client-0": 10, "client-1": 10}
    assert next(restored._task_ids) == saved["next_task_id"] == original._peek_task_id()
    assert restored.clients == original.clients


async def test_a_checkpoint_of_another_algorithm_is_refused(tmp_path: Path) -> None:
    deps = ServerDeps(None, None, checkpoint=checkpointer(tmp_path))
    fedbuff = FedBuffServer(FEDBUFF, initial(), deps)
    Node("n", sink=ListSink()).spawn(fedbuff, "server")
    checkpointer(tmp_path).write(fedbuff.state())

    fedasync = FedAsyncServer(
        FedAsyncConfig(), initial(), ServerDeps(None, None, checkpoint=checkpointer(tmp_path, True))
    )

    with pytest.raises(CheckpointError, match="does not fit this FedAsyncServer: written by a FedBuffServer"):
        fedasync.resume()


async def test_a_restored_async_edge_rebases_on_its_parents_next_task_keeping_its_progress(
    tmp_path: Path,
) -> None:
    config = AsyncEdgeConfig(edge=FedBuffConfig(buffer_size=1), push_every=5)
    deps = ServerDeps(None, None, checkpoint=checkpointer(tmp_path))
    edge = FedBuffEdge(config, async_group(config, initial(), deps), "server", 1)
    Node("n", sink=ListSink()).spawn(edge, "sched-0")
    first = {"w": torch.tensor([10.0], dtype=torch.float64)}
    await edge.parent_task(Task(1, 3, first, True))
    await edge.group.apply("client-0", delta(0.5, 1, 0), 0)  # edge version 1, not pushed yet

    deps = ServerDeps(None, None, checkpoint=checkpointer(tmp_path, True))
    restored = FedBuffEdge(config, async_group(config, initial(), deps), "server", 1)
    assert restored.resume() is True
    Node("n2", sink=ListSink()).spawn(restored, "sched-0")
    await restored.parent_task(Task(2, 7, {"w": torch.tensor([20.0], dtype=torch.float64)}, True))

    assert restored.group.params["w"].item() == 20.0 + (
        10.5 - 10.0
    )  # the parent's new model + the edge's progress
    assert restored.group.version == 1  # from its group: a rebase is not an edge version
    assert restored.rebases == 1
