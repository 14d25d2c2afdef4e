"""A worker killed mid-run ends the simulation with an error naming it, never a hang."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sims.errors import WorkerError
from sims.simulate import simulate
from tests.sims.workers.topologies import FEDASYNC
from topologies.load import parse_topology

pytestmark = pytest.mark.slow


def with_workers(text: str, workers: int) -> str:
    return text + f"\n[sim]\nworkers = {workers}\n"


def test_a_worker_killed_mid_run_ends_the_simulation_with_an_error_naming_it(tmp_path: Path) -> None:
    text = with_workers(FEDASYNC, 2).replace(
        "[client]\n", '[client]\ntrainer = "tests.sims.workers.dying:DyingTrainer"\n'
    )

    with pytest.raises(WorkerError) as caught:
        simulate(parse_topology(text), tmp_path)

    message = str(caught.value)
    assert re.search(r"simulation worker worker-[12] \(pid \d+ on .+\): exited with code -9 holding", message)
    assert caught.value.worker.startswith("worker-")
    assert str(tmp_path / "logs") in message  # where to look
