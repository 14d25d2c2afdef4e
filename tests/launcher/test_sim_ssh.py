"""Simulation workers on SSH hosts: the same events as inline, from the same hosts file as `launch`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.backends.slurm import SlurmOptions
from launcher.cli import main
from launcher.hosts import load_hosts, parse_hosts
from launcher.sim_workers import hosts_for_workers, remote_worker_command, srun_worker_command, start_workers
from launcher.testing import SshLab
from sims.workers.pool import WorkerPool
from tests.sims.workers.test_determinism import assert_pool_trains_as_inline, events_without_wall_time
from tests.sims.workers.topologies import ALL, FEDASYNC

ROOT = Path(__file__).resolve().parents[2]
HOSTS = """
backend = "ssh"
[launcher]
bind = "0.0.0.0"
advertise = "10.0.0.1"
[defaults]
python = "/opt/venv/bin/python"
workdir = "/srv/fed actors"
env = { OMP_NUM_THREADS = "1" }
[hosts.alpha]
[hosts.beta]
processes = 2
[placement]
processes_per_host = 1
"""


def test_workers_are_dealt_over_the_hosts_by_their_process_counts() -> None:
    hosts = parse_hosts(HOSTS)

    placed = hosts_for_workers(hosts, 5)

    assert [h.name for h in placed] == ["alpha", "beta", "beta", "alpha", "beta"]


def test_the_remote_worker_command_cds_to_the_workdir_and_execs_the_worker() -> None:
    host = parse_hosts(HOSTS).resolved()[0]

    command = remote_worker_command(host, "worker-2", "tcp://10.0.0.1:5555", "cuda:1")

    assert command == (
        "cd '/srv/fed actors' && exec env OMP_NUM_THREADS=1 /opt/venv/bin/python -m sims.workers.worker "
        "--pool tcp://10.0.0.1:5555 --worker-id worker-2 --device cuda:1"
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshLab]:
    reason = SshLab.missing()
    if reason is not None:
        pytest.skip(f"SSH lab unavailable: {reason}")
    with SshLab.start(tmp_path_factory.mktemp("sshlab"), ["alpha", "beta", "gamma"]) as lab:
        yield lab


@pytest.fixture(scope="module")
def ssh_pool(lab: SshLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerPool]:
    """Two workers, one on each of two SSH hosts (the hosts file deals them out one per host)."""
    root = tmp_path_factory.mktemp("ssh-pool")
    hosts_path = root / "hosts.toml"
    hosts_path.write_text(lab.hosts_toml(python=sys.executable, workdir=ROOT))
    hosts = load_hosts(str(hosts_path))
    workers = WorkerPool(2, start_workers(hosts, 2, root / "logs"), ["cpu"], f"tcp://{hosts.launcher.bind}:*")
    workers.start()
    yield workers
    workers.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(ALL))
def test_two_workers_on_two_ssh_hosts_give_the_events_and_weights_of_inline_training(
    name: str, ssh_pool: WorkerPool, tmp_path: Path
) -> None:
    assert_pool_trains_as_inline(ALL[name], ssh_pool, tmp_path)


@pytest.mark.slow
def test_two_workers_on_two_ssh_hosts_write_the_events_of_one_inline(lab: SshLab, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.toml"
    hosts.write_text(lab.hosts_toml(python=sys.executable, workdir=ROOT))
    inline, remote = tmp_path / "inline.toml", tmp_path / "remote.toml"
    inline.write_text(FEDASYNC + "\n[sim]\nworkers = 1\n")
    remote.write_text(FEDASYNC + f'\n[sim]\nworkers = 2\nhosts = "{hosts}"\n')

    codes = [main(["run", str(f), "--out", str(tmp_path / f.stem)]) for f in (inline, remote)]

    assert codes == [0, 0]
    assert events_without_wall_time(tmp_path / "remote") == events_without_wall_time(tmp_path / "inline")
    logs = sorted(p.name for p in (tmp_path / "remote" / "logs").iterdir())
    assert logs == ["worker-1.log", "worker-2.log"]


def test_under_slurm_a_worker_is_an_srun_step_on_its_host() -> None:
    host = parse_hosts(HOSTS).resolved()[1]

    command = srun_worker_command(host, "4242", SlurmOptions(), "worker-3", "tcp://cn001:5555", "cpu")

    assert command == [
        "srun",
        "--jobid=4242",
        "--nodes=1",
        "--ntasks=1",
        "--nodelist=beta",
        "--job-name=sim.worker-3",
        "--kill-on-bad-exit=1",
        "--export=ALL",
        "--overlap",
        "--chdir=/srv/fed actors",
        "--",
        "env",
        "OMP_NUM_THREADS=1",
        "/opt/venv/bin/python",
        "-m",
        "sims.workers.worker",
        "--pool",
        "tcp://cn001:5555",
        "--worker-id",
        "worker-3",
        "--device",
        "cpu",
    ]
