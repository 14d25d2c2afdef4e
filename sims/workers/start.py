"""How many workers a simulation gets, and starting them as local processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sims.workers.pool import StartWorker, WorkerProcess
from topologies.spec import RunSpec

#: Overrides the default worker count (not a file's `[sim] workers`): CI and
#: sweeps that already use every core set it to 1.
WORKERS_ENV = "FEDACTORS_SIM_WORKERS"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, as under Slurm or taskset)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_count(spec: RunSpec) -> int:
    """`[sim] workers`, else $FEDACTORS_SIM_WORKERS, else the usable cores.

    Raises:
        ValueError: $FEDACTORS_SIM_WORKERS is not a whole number >= 1.
    """
    if spec.sim.workers is not None:
        return spec.sim.workers
    value = os.environ.get(WORKERS_ENV)
    if value is None:
        return usable_cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1, got {value!r}")
    return int(value)


def worker_command(worker_id: str, pool: str, device: str, python: str = sys.executable) -> list[str]:
    """The command line of one worker (it exits when its stdin ends: keep a pipe to it)."""
    return [python, "-m", "sims.workers.worker", "--pool", pool, "--worker-id", worker_id, "--device", device]


def start_local(log_dir: Path) -> StartWorker:
    """Workers as child processes of this one, each logging to `log_dir/<id>.log`.

    They import from this process's `sys.path`, so a trainer, model or loader
    the topology names by `module:attr` resolves in them as it does here.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}

    def start(worker_id: str, pool: str, device: str) -> tuple[WorkerProcess, str]:
        log_path = log_dir / f"{worker_id}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                worker_command(worker_id, pool, device),
                stdin=subprocess.PIPE,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
            )
        return process, str(log_path)

    return start
