"""The `slurm` backend: node processes as `srun` job steps inside the launcher's allocation.

Start the launcher inside an allocation (`salloc -N3 fedactors run ...`, or an
`sbatch` script); the allocation's hosts, read from the `SLURM_*` environment
(`launcher.slurm_env`), become the run's hosts (`slurm_hosts`), and each node
process is one job step pinned to its host:

    srun --jobid=4242 --nodes=1 --ntasks=1 --nodelist=cn017 --job-name=RUN.node-1
         --kill-on-bad-exit=1 --export=ALL --overlap [--cpus-per-task=N] [--chdir=DIR] [SRUN_ARGS]
         -- [env K=V] PYTHON -m launcher.cli node - --node-id node-1 --coordinator tcp://LAUNCHER:PORT
            --bind tcp://0.0.0.0:* --advertise cn017 --run-label RUN --exit-on-stdin-eof --die-with-parent

Why each piece:

- one node process per host (the default when the allocation has one task per
  node) is one step per host; a host given several node processes gets one
  step for each, so each has its own exit code, log and signal.
- `--overlap`: the node processes of a host share the CPUs the allocation
  holds there, instead of the second step waiting forever for CPUs the first
  one holds (`[slurm] overlap = false` asks for exclusive slices, which the
  allocation must then have room for).
- `--job-name=RUN.NODE`: the step's name, by which `squeue --steps` finds its
  id for `scancel`.
- `--kill-on-bad-exit=1`: a node that fails ends its step at once.
- `--export=ALL`: the node sees the launcher's environment (its venv's PATH,
  `PYTHONPATH`); the host's `env` goes through `env K=V` instead, because
  `--export` splits its list at commas.
- `node -` and `--exit-on-stdin-eof`: as with `ssh`, the resolved topology is
  the first line of the node's stdin (`srun` forwards its stdin to the task), so
  the run directory need not be on a shared file system, and the end of that
  stdin (the launcher closed it, or `srun` died) makes the node stop.
- `srun` runs in its own session, so a terminal's Ctrl-C reaches only the
  launcher (`srun` would otherwise print step status on the first Ctrl-C and
  abort the step on the second), which then stops every node in order.

Teardown (`stop`): wait for the nodes already told to stop; then close their
stdin and `scancel --signal=TERM JOB.STEP` each step still running; then
`scancel --signal=KILL`; then reap the `srun` clients (SIGTERM, SIGKILL); then
`scancel` any step of this run that Slurm still lists and wait until it lists
none. A launcher killed outright leaves nothing either: its `srun` clients lose
their stdin and the nodes stop; an `srun` that is itself killed takes its step
with it (slurmstepd ends a step whose `srun` is gone); `scancel JOB` ends all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from launcher.backends.base import STOP_GRACE_S, Backend, BackendError, Echo, NodeLaunch
from launcher.hosts import HostPlacementSpec, HostSettings, HostsFileError, HostSpec, HostsSpec
from launcher.processes import NodeProcess, wait_all
from launcher.slurm_env import SlurmAllocation, SlurmEnvError, allocation_from_env
from topologies.load import Problem

SQUEUE_TIMEOUT_S = 30.0  # slurmctld answers in well under a second; a busy one within this
STEP_GONE_TIMEOUT_S = 60.0  # Slurm's default KillWait is 30 s before it kills a cancelled step
STEP_POLL_S = 0.5  # squeue is cheap, but slurmctld is shared with every user of the cluster
NODE_FLAGS = ("--exit-on-stdin-eof", "--die-with-parent")
log = structlog.get_logger("fedactors.launcher.slurm")


class SlurmOptions(BaseModel):
    """The hosts file's `[slurm]` table.

    Attributes:
        cpus_per_task: CPUs each node's step asks for (default: what the allocation says).
        overlap: let the steps on one host share its CPUs (see the module docstring).
        srun_args: extra `srun` options, e.g. `["--mem=0", "--gpus-per-task=1"]`.
        srun: the `srun` command; `squeue` and `scancel`: theirs.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpus_per_task: int | None = Field(default=None, ge=1)
    overlap: bool = True
    srun_args: list[str] = Field(default_factory=list)
    srun: str = "srun"
    squeue: str = "squeue"
    scancel: str = "scancel"


def slurm_options(table: Mapping[str, object], source: str = "hosts file") -> SlurmOptions:
    """Validate the hosts file's `[slurm]` table.

    Raises:
        HostsFileError: a key is unknown or has a bad value (each named as `slurm.<key>`).
    """
    try:
        return SlurmOptions.model_validate(dict(table))
    except ValidationError as exc:
        problems = [
            Problem("slurm." + ".".join(map(str, e["loc"])), f"{e['msg']} (got {e.get('input')!r})", None)
            for e in exc.errors()
        ]
        raise HostsFileError(source, problems) from exc


def slurm_hosts(
    allocation: SlurmAllocation, hosts_spec: HostsSpec | None = None, python: str = sys.executable
) -> list[HostSpec]:
    """The run's hosts: the allocation's, in its order, with the hosts file's settings applied.

    A host runs `placement.processes_per_host` node processes when the hosts
    file sets it, else as many as Slurm planned tasks there
    (`SLURM_TASKS_PER_NODE`). `[defaults]` apply to every host; a `[hosts.NAME]`
    table, to the allocated host of that name. The node's Python defaults to
    the launcher's own (`python`): an allocation shares its file systems.

    Raises:
        SlurmEnvError: the hosts file has a `[hosts.NAME]` table for a host
            the allocation does not hold.
    """
    defaults, placement, tables = HostSettings(), HostPlacementSpec(), {}
    if hosts_spec is not None:
        defaults, placement, tables = hosts_spec.defaults, hosts_spec.placement, hosts_spec.hosts
    outside = [name for name in tables if name not in allocation.hosts]
    if outside:
        raise SlurmEnvError(
            "SLURM_JOB_NODELIST",
            ",".join(allocation.hosts),
            f"the hosts file has a [hosts.{outside[0]}] table, but the allocation does not hold that host; "
            "remove the table or allocate the host",
        )
    base = {"python": python, **defaults.model_dump(exclude_unset=True)}
    per_host = placement.processes_per_host if "processes_per_host" in placement.model_fields_set else None
    resolved = []
    for name, tasks in zip(allocation.hosts, allocation.tasks_per_host, strict=True):
        entry = tables[name].model_dump(exclude_unset=True) if name in tables else {}
        fields = {"processes": per_host or tasks, **base, **entry, "name": name}
        resolved.append(HostSpec.model_validate(fields))
    return resolved


def launcher_host(env: Mapping[str, str]) -> str:
    """The name compute nodes dial to reach the launcher: its Slurm node name inside a batch
    script (`SLURMD_NODENAME`), else this machine's host name (the login node under `salloc`)."""
    return env.get("SLURMD_NODENAME") or socket.gethostname()


def step_name(launch: NodeLaunch) -> str:
    """`<run>.<node id>`, `<run>` the run directory's name: unique in the job, so that
    `squeue --steps` finds the step (and short, and free of `|`, which its output splits at)."""
    run = Path(launch.run_label).name if launch.run_label else launch.spec_path.parent.name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{run}.{launch.node_id}")


def srun_step(host: HostSpec, job_id: str, options: SlurmOptions, step: str) -> list[str]:
    """The `srun` command line, up to and including its `--` and the host's `env`, that runs
    one step named `step` of allocation `job_id` on `host` (pure)."""
    command = [
        options.srun,
        f"--jobid={job_id}",
        "--nodes=1",
        "--ntasks=1",
        f"--nodelist={host.name}",
        f"--job-name={step}",
        "--kill-on-bad-exit=1",
        "--export=ALL",
    ]
    if options.overlap:
        command.append("--overlap")
    if options.cpus_per_task is not None:
        command.append(f"--cpus-per-task={options.cpus_per_task}")
    if host.workdir is not None:
        command.append(f"--chdir={host.workdir}")
    command += [*options.srun_args, "--"]
    if host.env:
        command += ["env", *(f"{key}={value}" for key, value in sorted(host.env.items()))]
    return command


def srun_command(launch: NodeLaunch, job_id: str, options: SlurmOptions) -> list[str]:
    """The `srun` command line that runs `launch`'s node as one step on its host (pure)."""
    command = srun_step(launch.host, job_id, options, step_name(launch))
    return [*command, launch.host.python, "-m", "launcher.cli", *launch.node_args("-", *NODE_FLAGS)]


def parse_steps(text: str, job_id: str) -> dict[str, str]:
    """Step name → step id (`4242.3`) from `squeue --steps --noheader --format=%i|%j` output (pure)."""
    steps = {}
    for line in text.splitlines():
        step_id, _, name = line.strip().partition("|")
        if step_id.startswith(f"{job_id}.") and name:
            steps[name] = step_id
    return steps


class SlurmBackend(Backend):
    """Node processes as `srun` steps of the allocation (see the module docstring).

    Args:
        spec: the hosts file (its `[defaults]`, `[placement]` and `[slurm]`; the
            hosts come from the allocation).
        env: the environment to read the allocation from (default `os.environ`).

    Raises:
        SlurmEnvError: not inside an allocation, or its environment is malformed.
        HostsFileError: the `[slurm]` table is invalid.
    """

    name = "slurm"

    def __init__(self, spec: HostsSpec, env: Mapping[str, str] | None = None) -> None:
        super().__init__(spec)
        self.env = os.environ if env is None else env
        self.allocation = allocation_from_env(self.env)
        self.options = slurm_options(spec.slurm)
        self.step_names: dict[str, str] = {}  # node id -> step name
        self.step_ids: dict[str, str] = {}  # node id -> "job.step", once squeue listed it

    def hosts(self) -> list[HostSpec]:
        """The allocation's hosts (`slurm_hosts`)."""
        return slurm_hosts(self.allocation, self.spec)

    def launcher_dial(self) -> str:
        """The address nodes dial to reach the launcher: `[launcher] advertise`, else `launcher_host`."""
        return self.spec.launcher.advertise or launcher_host(self.env)

    async def start(self, launch: NodeLaunch, log_dir: Path, echo: Echo) -> NodeProcess:
        """Start `launch`'s node as an `srun` step on its host, its topology on stdin.

        Raises:
            BackendError: `srun` is not on PATH or cannot be executed.
        """
        command = srun_command(launch, self.allocation.job_id, self.options)
        if shutil.which(self.options.srun) is None:
            reason = f"{self.options.srun!r} is not on PATH (is Slurm's client installed here?)"
            raise BackendError(launch.node_id, launch.host.name, command, reason)
        node = await launch.start_with_spec_on_stdin(command, log_dir, echo, "srun")
        self.step_names[launch.node_id] = step_name(launch)
        log.debug("step_started", node=launch.node_id, host=launch.host.name, step=step_name(launch))
        return node

    async def signal(self, node: NodeProcess, sig: signal.Signals) -> None:
        """`scancel --signal=SIG JOB.STEP`; to the local `srun` before Slurm lists the step
        (`srun` forwards TERM, INT, HUP, QUIT, USR1 and USR2 to its task)."""
        if not node.alive:
            return
        step = await self._step_id(node.node_id)
        if step is None:
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(sig)
            return
        await self._run(self.options.scancel, "--quiet", f"--signal={sig.name.removeprefix('SIG')}", step)

    async def stop(self, nodes: list[NodeProcess], grace_s: float = STOP_GRACE_S) -> None:
        """Stop every step: grace, end of stdin and TERM, KILL; reap `srun`; cancel leftovers."""
        await _wait_exited(nodes, grace_s)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = [n for n in nodes if n.alive]
            if not alive:
                break
            log.info("steps_signalled", signal=sig.name, nodes=[f"{n.host}/{n.node_id}" for n in alive])
            for node in alive:
                node.close_stdin()
            await asyncio.gather(*(self.signal(n, sig) for n in alive))
            await _wait_exited(alive, grace_s)
        await wait_all(nodes, grace_s)
        await self._cancel_leftovers({n.node_id for n in nodes})

    async def _step_id(self, node_id: str) -> str | None:
        """The node's `job.step` id, asking `squeue` until it lists it; None before."""
        if node_id not in self.step_ids and node_id in self.step_names:
            steps = await self._steps()
            if self.step_names[node_id] in steps:
                self.step_ids[node_id] = steps[self.step_names[node_id]]
        return self.step_ids.get(node_id)

    async def _steps(self) -> dict[str, str]:
        """Step name → step id for every step of the job that `squeue` lists now."""
        job = self.allocation.job_id
        output = await self._run(
            self.options.squeue, "--steps", "--noheader", "--format=%i|%j", f"--jobs={job}"
        )
        return parse_steps(output, job)

    async def _cancel_leftovers(self, node_ids: set[str]) -> None:
        """`scancel` the steps of `node_ids` that Slurm still lists, and wait until it lists none."""
        ours = {self.step_names[n] for n in node_ids if n in self.step_names}
        leftovers = [step for name, step in (await self._steps()).items() if name in ours] if ours else []
        if not leftovers:
            return
        log.warning("steps_cancelled", steps=leftovers)
        await self._run(self.options.scancel, "--quiet", *leftovers)
        try:
            async with asyncio.timeout(STEP_GONE_TIMEOUT_S):
                while True:
                    if not ours & set(await self._steps()):
                        break
                    await asyncio.sleep(STEP_POLL_S)
        except TimeoutError:
            log.error("steps_not_ended", steps=leftovers, waited_s=STEP_GONE_TIMEOUT_S)

    async def _run(self, *command: str) -> str:
        """Run a Slurm client command; its stdout, or "" after logging why it failed."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            log.warning("slurm_command_failed", command=list(command), reason=str(exc))
            return ""
        try:
            async with asyncio.timeout(SQUEUE_TIMEOUT_S):
                out, err = await proc.communicate()
        except TimeoutError:
            proc.kill()
            await proc.wait()
            log.warning(
                "slurm_command_failed", command=list(command), reason=f"no answer in {SQUEUE_TIMEOUT_S} s"
            )
            return ""
        if proc.returncode != 0:
            reason = err.decode(errors="replace").strip()
            log.warning("slurm_command_failed", command=list(command), reason=reason)
        return out.decode(errors="replace")


async def _wait_exited(nodes: list[NodeProcess], timeout_s: float) -> None:
    """Wait up to `timeout_s` for every `srun` in `nodes` to exit."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(n.proc.wait() for n in nodes))
