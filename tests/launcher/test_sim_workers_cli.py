"""`fedactors run --workers N` and `[client] device` at the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from launcher.cli import main
from tests.sims.workers.test_determinism import events_without_wall_time
from tests.sims.workers.topologies import FEDASYNC


def test_workers_below_one_are_refused_by_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["run", "x.toml", "--workers", "0"])

    assert caught.value.code == 2
    assert "--workers must be a whole number >= 1, got '0'" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_device_on_a_machine_without_one_is_refused_before_the_run_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topology = tmp_path / "gpu.toml"
    topology.write_text(FEDASYNC.replace("[client]\n", '[client]\ndevice = "cuda:1"\n'))

    code = main(["run", str(topology), "--out", str(tmp_path / "run")])

    assert code == 2
    assert "client.device = 'cuda:1': CUDA is not available here" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_run_with_two_workers_writes_the_events_of_a_run_with_one(tmp_path: Path) -> None:
    topology = tmp_path / "fedasync.toml"
    topology.write_text(FEDASYNC)

    codes = [main(["run", str(topology), "--workers", n, "--out", str(tmp_path / n)]) for n in ("1", "2")]

    assert codes == [0, 0]
    assert json.loads((tmp_path / "2" / "topology.json").read_text())["sim"]["workers"] == 2
    assert sorted(p.name for p in (tmp_path / "2" / "logs").iterdir()) == ["worker-1.log", "worker-2.log"]
    assert events_without_wall_time(tmp_path / "2") == events_without_wall_time(tmp_path / "1")
