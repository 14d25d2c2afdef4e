"""Simulation workers on other hosts: `[sim] hosts = "hosts.toml"` (the file `fedactors launch` reads).

The simulation stays in this process; its training workers start on the hosts
of the hosts file, dealt in turn (`processes_per_host` workers per host before
the next), with the `ssh` backend's command line:

    ssh -T -o BatchMode=yes ... -- HOST 'cd WORKDIR && exec env K=V PYTHON -m sims.workers.worker
        --pool tcp://LAUNCHER:PORT --worker-id worker-3 --device cuda:0'

Each worker dials the pool at the hosts file's `[launcher]` address (its
`advertise`, else its `bind`), builds the data from the run's seed on its
host (the dataset must be there, as for `fedactors launch`), and exits when
the ssh connection ends. With `backend = "slurm"` (inside an allocation:
`sbatch`/`salloc`), each worker is an `srun` step on an allocated host
instead, as `fedactors launch` starts nodes there:

    srun --jobid=J --nodes=1 --ntasks=1 --nodelist=cn017 --job-name=sim.worker-3
        --kill-on-bad-exit=1 --export=ALL [--overlap] ... -- PYTHON -m sims.workers.worker ...
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from launcher.backends.slurm import (
    SlurmOptions,
    launcher_host,
    slurm_hosts,
    slurm_options,
    srun_step,
)
from launcher.backends.ssh import ssh_command
from launcher.hosts import HostSpec, HostsSpec, load_hosts
from launcher.rendezvous import advertised
from launcher.slurm_env import allocation_from_env
from sims.workers.pool import StartWorker, WorkerPool, WorkerProcess
from sims.workers.start import worker_command
from topologies.spec import RunSpec


def remote_worker_command(host: HostSpec, worker_id: str, pool: str, device: str) -> str:
    """The shell command the host's login shell runs: `cd`, then `exec` the worker."""
    env = [f"{k}={v}" for k, v in sorted(host.env.items())]
    words = ["exec", *(["env", *env] if env else []), *worker_command(worker_id, pool, device, host.python)]
    command = shlex.join(words)
    return f"cd {shlex.quote(host.workdir)} && {command}" if host.workdir else command


def hosts_for_workers(hosts: HostsSpec, count: int, resolved: list[HostSpec] | None = None) -> list[HostSpec]:
    """The host of each of `count` workers: `processes_per_host` on each host, then the next."""
    resolved = hosts.resolved() if resolved is None else resolved
    per_host = [h.processes or hosts.placement.processes_per_host for h in resolved]
    slots = [host for host, n in zip(resolved, per_host, strict=True) for _ in range(n)]
    return [slots[i % len(slots)] for i in range(count)]


def srun_worker_command(
    host: HostSpec, job_id: str, options: SlurmOptions, worker_id: str, pool: str, device: str
) -> list[str]:
    """The `srun` command line that runs one worker as a step of allocation `job_id` on `host`."""
    command = srun_step(host, job_id, options, f"sim.{worker_id}")
    return [*command, *worker_command(worker_id, pool, device, host.python)]


def start_workers(hosts: HostsSpec, count: int, log_dir: Path) -> StartWorker:
    """Start worker `i` on its host (see `hosts_for_workers`) under ssh, or as an srun step.

    Raises:
        SlurmEnvError: `backend = "slurm"` outside an allocation, or a host it does not hold.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    if hosts.backend == "slurm":
        allocation = allocation_from_env(os.environ)
        options = slurm_options(hosts.slurm)
        resolved = slurm_hosts(allocation, hosts)
        hosts = hosts.model_copy(
            update={"launcher": hosts.launcher.model_copy(update={"advertise": launcher_host(os.environ)})}
        )
    else:
        resolved = hosts.resolved()
    placed = hosts_for_workers(hosts, count, resolved)
    dial = hosts.launcher.advertise or hosts.launcher.bind

    def command(host: HostSpec, worker_id: str, pool: str, device: str) -> list[str]:
        if hosts.backend == "slurm":
            return srun_worker_command(host, allocation.job_id, options, worker_id, pool, device)
        return ssh_command(host, remote_worker_command(host, worker_id, pool, device))

    def start(worker_id: str, pool: str, device: str) -> tuple[WorkerProcess, str]:
        host = placed[int(worker_id.rsplit("-", 1)[1]) - 1]
        log_path = log_dir / f"{worker_id}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command(host, worker_id, advertised(pool, dial), device),
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a terminal's Ctrl-C reaches the simulation, which stops them
            )
        return process, f"{log_path} (on {host.name})"

    return start


def remote_pool(spec: RunSpec, count: int, run_dir: Path) -> WorkerPool | None:
    """The pool of `[sim] hosts`'s workers (None when the file names no hosts file).

    Raises:
        HostsFileError: the hosts file is missing or invalid.
        SlurmEnvError: as `start_workers`.
    """
    if spec.sim.hosts is None:
        return None
    hosts = load_hosts(spec.sim.hosts)
    starter = start_workers(hosts, count, run_dir / "logs")
    bind = f"tcp://{hosts.launcher.bind}:*"
    return WorkerPool(count, starter, spec.sim.devices or [spec.client.device], bind)
