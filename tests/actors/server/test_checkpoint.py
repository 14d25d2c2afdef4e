"""Checkpoint files: atomic writes, exact round trips, corrupt files refused, and when one is due."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
import torch

from actors.server.checkpoint import (
    CheckpointConfig,
    Checkpointer,
    read_checkpoint,
    write_checkpoint,
)
from actors.server.errors import CheckpointError
from actors.server.optimizers import FedAdam, FedAdamConfig


def assert_same_tree(got: Any, expected: Any, where: str = "state") -> None:
    """Equal to the bit: tensors by dtype, shape and value; tuples may come back as lists."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, torch.Tensor), where
        assert got.dtype == expected.dtype, where
        assert torch.equal(got, expected), where
    elif isinstance(expected, dict):
        assert isinstance(got, dict), where
        assert list(got) == list(expected), where
        for key in expected:
            assert_same_tree(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list | tuple):
        assert isinstance(got, list | tuple), where
        assert len(got) == len(expected), where
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert_same_tree(a, b, f"{where}[{i}]")
    else:
        assert type(got) is type(expected), where
        assert got == expected, where


def adam_after_two_steps() -> FedAdam:
    optimizer = FedAdam(FedAdamConfig(lr=0.1))
    params = {"w": torch.tensor([1.0, 2.0]), "steps": torch.tensor(3)}
    for delta in ({"w": torch.tensor([0.5, -0.25]), "steps": torch.tensor(1)},) * 2:
        params = optimizer.step(params, delta)
    return optimizer


def sample_state() -> dict[str, Any]:
    rng = random.Random(7)
    rng.random()
    generator = torch.Generator().manual_seed(0)
    return {
        "version": 41,
        "params": {
            "fc.weight": torch.randn(3, 4, generator=generator),
            "fc.bias": torch.randn(3, dtype=torch.float64, generator=generator),
            "half": torch.randn(2, 2, generator=generator).to(torch.bfloat16),
            "bn.num_batches_tracked": torch.tensor(12),
            "mask": torch.tensor([True, False]),
            "transposed": torch.arange(6.0).reshape(2, 3).t(),
        },
        "rng": rng.getstate(),
        "optimizer": adam_after_two_steps().state_dict(),
        "buffer": [{"w": torch.tensor([0.125, 0.5])}, {"w": torch.tensor([-1.0, 2.0])}],
        "buffer_weights": [1.0, 0.5773502691896258],
        "clients": {"client-003": 17, "client-000": 90},
        "last_accuracy": None,
        "elapsed_s": 12.75,
    }


def test_a_checkpoint_round_trips_tensors_rng_buffer_and_adam_moments_exactly(tmp_path: Path) -> None:
    state = sample_state()

    size = write_checkpoint(tmp_path / "server.ckpt", state)
    loaded = read_checkpoint(tmp_path / "server.ckpt")

    assert size == (tmp_path / "server.ckpt").stat().st_size
    assert_same_tree(loaded, state)
    restored, original = random.Random(), random.Random()
    version, internal, gauss = loaded["rng"]
    restored.setstate((version, tuple(internal), gauss))
    original.setstate(state["rng"])
    assert [restored.random() for _ in range(5)] == [original.random() for _ in range(5)]
    moments = FedAdam(FedAdamConfig(lr=0.1))
    moments.load_state_dict(loaded["optimizer"])
    assert_same_tree(moments.state_dict(), adam_after_two_steps().state_dict())


def test_a_stale_temp_file_left_by_a_crash_never_replaces_a_good_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "server.ckpt"
    write_checkpoint(path, {"version": 1})
    (tmp_path / "server.ckpt.tmp").write_bytes(b"half a checkpoint, then the process was killed")

    before = read_checkpoint(path)
    write_checkpoint(path, {"version": 2})

    assert before == {"version": 1}
    assert read_checkpoint(path) == {"version": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["server.ckpt"]


def test_a_write_that_fails_before_its_rename_leaves_the_previous_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "server.ckpt"
    write_checkpoint(path, {"version": 1})

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_checkpoint(path, {"version": 2})
    monkeypatch.undo()

    assert read_checkpoint(path) == {"version": 1}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[:-9], r"expected \d+ bytes as its header says, got \d+"),
        (lambda data: data[:20], r"cut short: 20 bytes cannot hold \d+ frame sizes"),
        (lambda data: data[:10], "cut short: 10 bytes cannot hold a header"),
        (lambda data: data[:-40] + bytes([data[-40] ^ 0x01]) + data[-39:], "checksum mismatch"),
        (lambda data: b"PK\x03\x04" + data[4:], "not a fedactors checkpoint"),
        (lambda data: b"", "the file is empty"),
    ],
    ids=["truncated", "sizes cut", "header cut", "bit flipped", "another format", "empty"],
)
def test_a_corrupt_checkpoint_is_refused_with_an_error_naming_the_file(
    tmp_path: Path, damage: Any, message: str
) -> None:
    path = tmp_path / "server.ckpt"
    write_checkpoint(path, sample_state())
    path.write_bytes(damage(path.read_bytes()))

    with pytest.raises(CheckpointError, match=message) as caught:
        read_checkpoint(path)

    assert caught.value.path == str(path)
    assert str(caught.value).startswith(f"checkpoint {path}: ")


def test_a_missing_checkpoint_means_the_actor_starts_afresh(tmp_path: Path) -> None:
    checkpointer = Checkpointer(CheckpointConfig(directory=str(tmp_path), resume=True), "sched-2")

    assert checkpointer.load() is None
    assert checkpointer.path == tmp_path / "sched-2.ckpt"


@pytest.mark.parametrize(
    ("every_versions", "every_s", "due_at"),
    [
        (1, 0, [1, 2, 3, 4, 5, 6]),
        (2, 0, [2, 4, 6]),
        (0, 30.0, [3, 6]),
        (4, 30.0, [3, 6]),
        (None, None, []),
        (0, 0, []),
    ],
)
def test_a_checkpoint_is_due_every_n_versions_or_t_seconds_since_the_last(
    every_versions: int | None, every_s: float | None, due_at: list[int]
) -> None:
    config = CheckpointConfig(every_versions=every_versions, every_s=every_s, directory="/unused")
    checkpointer = Checkpointer(config, "server")
    clock_at_version = {1: 0.0, 2: 0.0, 3: 30.0, 4: 30.0, 5: 45.0, 6: 60.0}

    due = []
    for version, now in clock_at_version.items():
        if checkpointer.due(version, now):
            due.append(version)
            checkpointer.mark(version, now)

    assert due == due_at
