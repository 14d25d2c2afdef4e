"""A throwaway one-host Slurm cluster for tests: munged, slurmctld and slurmd, as root, in a temp dir.

Debian's `slurm-wlm` (22.05) runs this way on one machine, containers
included. Nothing outside `root` is touched: the munge key, sockets, state,
spool, logs and `slurm.conf` all live there, and clients find the cluster
through `SLURM_CONF` in the environment `one_host_cluster` yields. Every
daemon is stopped on the way out, even when the body raised.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import selectors
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("salloc", "srun", "squeue", "scancel", "sinfo")
READY_TIMEOUT_S = 60.0  # slurmctld and slurmd start in about a second; a busy 2-core machine within this
STOP_TIMEOUT_S = 30.0
POLL_S = 0.2

SLURM_CONF = """\
ClusterName=fedtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge-run/munge.sock
CredType=cred/munge
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MailProg=/bin/true
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def missing_binaries() -> list[str]:
    """The daemons and clients this cluster needs that are not on PATH (or sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [name for name in (*DAEMONS, *CLIENTS) if shutil.which(name, path=path) is None]


def poll_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Return once `condition()` is true; poll it until `timeout_s` has passed.

    Raises:
        TimeoutError: it never became true (the message says what was awaited).
    """
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(POLL_S)  # a poll interval, not a synchronization: the condition decides


def wait_for_line(stream: IO[bytes], text: str, timeout_s: float, seen: list[str]) -> None:
    """Read the pipe `stream` (unbuffered, by its fd) until a line contains `text`;
    every line read is appended to `seen`.

    Raises:
        TimeoutError: no such line within `timeout_s`, or the pipe closed first.
    """
    deadline, pending = time.monotonic() + timeout_s, b""
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(deadline - time.monotonic(), 0)):
                continue
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            seen += [line.decode(errors="replace") for line in lines]
            if any(text in line for line in seen[len(seen) - len(lines) :]):
                return
    raise TimeoutError(f"no line with {text!r} within {timeout_s} s; output:\n" + "\n".join(seen[-20:]))


@contextlib.contextmanager
def one_host_cluster(root: Path) -> Iterator[dict[str, str]]:
    """Run a one-host cluster under `root`; yield the environment its clients need.

    Raises:
        TimeoutError: the node did not come up idle within `READY_TIMEOUT_S`
            (the daemons' logs under `root/log` say why).
    """
    env = {**os.environ, "SLURM_CONF": str(_write_config(root))}
    daemons: list[subprocess.Popen[bytes]] = []
    try:
        daemons.append(_start(root, "munged", _munged_args(root), env))
        poll_until(lambda: (root / "munge-run" / "munge.sock").exists(), READY_TIMEOUT_S, "munged socket")
        conf = env["SLURM_CONF"]
        daemons.append(_start(root, "slurmctld", ["slurmctld", "-D", "-i", "-f", conf], env))
        daemons.append(_start(root, "slurmd", ["slurmd", "-D", "-f", conf], env))
        poll_until(
            lambda: _node_idle(env, daemons), READY_TIMEOUT_S, f"slurm node idle (logs: {root / 'log'})"
        )
        yield env
    finally:
        _cancel_all_jobs(env)
        for daemon in reversed(daemons):
            _stop(daemon)


def _write_config(root: Path) -> Path:
    """The munge key and `slurm.conf`, with free ports, for this host."""
    for sub in ("munge-key", "munge-run", "state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "munge-key").chmod(0o700)
    (root / "munge-run").chmod(0o755)
    key = root / "munge-key" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    conf = root / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(
            host=socket.gethostname().split(".")[0],
            root=root,
            ctld_port=_free_port(),
            slurmd_port=_free_port(),
            cpus=os.cpu_count() or 1,
        ),
        encoding="utf-8",
    )
    return conf


def _munged_args(root: Path) -> list[str]:
    return [
        "munged",
        "--foreground",
        "--force",
        f"--socket={root}/munge-run/munge.sock",
        f"--key-file={root}/munge-key/munge.key",
        f"--pid-file={root}/munge-run/munged.pid",
        f"--log-file={root}/log/munged.log",
        f"--seed-file={root}/munge-run/munged.seed",
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("", 0))
        return int(probe.getsockname()[1])


def _start(root: Path, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    path = os.pathsep.join([env.get("PATH", ""), "/usr/sbin", "/sbin"])
    binary = shutil.which(args[0], path=path) or args[0]
    with (root / "log" / f"{name}.out").open("wb") as out:
        return subprocess.Popen([binary, *args[1:]], stdout=out, stderr=subprocess.STDOUT, env=env, cwd=root)


def _node_idle(env: dict[str, str], daemons: list[subprocess.Popen[bytes]]) -> bool:
    """True once `sinfo` reports the node idle.

    Raises:
        RuntimeError: a daemon exited (its log says why).
    """
    dead = [d for d in daemons if d.poll() is not None]
    if dead:
        name = Path(str(dead[0].args[0])).name
        raise RuntimeError(f"{name} exited with code {dead[0].returncode} while the cluster started")
    state = subprocess.run(
        ["sinfo", "--noheader", "--format=%t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return state.stdout.strip() == "idle"


def _cancel_all_jobs(env: dict[str, str]) -> None:
    """Cancel every job of the cluster and wait until `squeue` lists none (steps end with them)."""
    if "SLURM_CONF" not in env:
        return
    subprocess.run(
        ["scancel", "--full", "--user=root"], env=env, capture_output=True, timeout=30, check=False
    )

    def no_jobs() -> bool:
        listing = subprocess.run(
            ["squeue", "--noheader"], env=env, capture_output=True, text=True, timeout=30, check=False
        )
        return listing.returncode != 0 or not listing.stdout.strip()

    with contextlib.suppress(TimeoutError):
        poll_until(no_jobs, STOP_TIMEOUT_S, "jobs cancelled")


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after `STOP_TIMEOUT_S`; always reaped."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
    try:
        daemon.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()
