"""`[sim]` and `[client] device`: bad values refused with their field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from topologies.load import TopologyFileError, parse_topology

EXAMPLES = Path(__file__).resolve().parents[2] / "topologies" / "examples"


def problem_in(extra: str, replace: tuple[str, str] = ("", "")) -> tuple[str, str, int | None]:
    text = (EXAMPLES / "fedasync.toml").read_text().replace(*replace) + extra
    with pytest.raises(TopologyFileError) as caught:
        parse_topology(text, "bad.toml")
    (problem,) = caught.value.problems
    return problem.field, problem.message, problem.line


def line_of(extra: str, key: str) -> int:
    text = (EXAMPLES / "fedasync.toml").read_text() + extra
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(key))


def test_sim_workers_below_one_is_refused_with_its_line() -> None:
    extra = "\n[sim]\nworkers = 0\n"

    field, message, line = problem_in(extra)

    assert field == "sim.workers"
    assert "greater than or equal to 1" in message
    assert line == line_of(extra, "workers")


def test_a_sim_device_that_is_not_cpu_or_cuda_is_refused_naming_it() -> None:
    extra = '\n[sim]\ndevices = ["cuda:0", "gpu1"]\n'

    field, message, line = problem_in(extra)

    assert field == "sim.devices.1"
    assert "a device is 'cpu', 'cuda' or 'cuda:N' (N a GPU index), got 'gpu1'" in message
    assert line == line_of(extra, "devices")


def test_a_client_device_with_a_bad_index_is_refused_with_its_line() -> None:
    field, message, _ = problem_in("", ("[client]\n", '[client]\ndevice = "cuda:x"\n'))

    assert field == "client.device"
    assert "got 'cuda:x'" in message


def test_sim_defaults_leave_the_worker_count_to_the_machine() -> None:
    spec = parse_topology((EXAMPLES / "fedasync.toml").read_text())

    assert spec.sim.workers is None
    assert spec.sim.devices == []
    assert spec.client.device == "cpu"
