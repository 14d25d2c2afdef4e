"""Training on a GPU: the same events inline and on workers; weights come back on the CPU."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from actors.client.local_sgd import TrainConfig
from actors.client.trainer import TorchTrainer
from tests.sims.built_run import run_and_keep
from tests.sims.workers.test_determinism import events_without_wall_time
from tests.sims.workers.topologies import FEDASYNC

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def small_trainer(device: str) -> TorchTrainer:
    torch.manual_seed(0)
    x, y = torch.randn(40, 6), torch.arange(40) % 3
    return TorchTrainer(torch.nn.Linear(6, 3), x, y, TrainConfig(batch_size=8), seed=5, device=device)


def test_a_task_trained_twice_from_its_number_gives_the_same_bits_whatever_came_between() -> None:
    trainer = small_trainer("cpu")
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}

    first, _ = trainer.fit_task(start, None, 3)
    trainer.fit_task(start, None, 4)
    again, _ = trainer.fit_task(start, None, 3)
    other, _ = trainer.fit_task(start, None, 4)

    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not torch.equal(first["weight"], other["weight"])


@cuda
def test_a_cuda_trainer_returns_cpu_weights() -> None:
    trainer = small_trainer("cuda")

    weights, result = trainer.fit(trainer.model.state_dict())

    assert {v.device.type for v in weights.values()} == {"cpu"}
    assert result.num_steps == 5


@cuda
def test_cuda_training_on_two_workers_writes_the_events_of_inline_cuda_training(tmp_path: Path) -> None:
    from sims.workers.pool import WorkerPool
    from sims.workers.start import start_local

    text = FEDASYNC.replace("[client]\n", '[client]\ndevice = "cuda"\n')
    pool = WorkerPool(2, start_local(tmp_path / "logs"), ["cuda:0"])
    pool.start()
    try:
        run_and_keep(text, tmp_path / "inline")
        run_and_keep(text, tmp_path / "pooled", pool=pool)
    finally:
        pool.close()

    assert events_without_wall_time(tmp_path / "pooled") == events_without_wall_time(tmp_path / "inline")
