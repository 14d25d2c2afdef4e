"""The `ssh` backend: each node runs on its host under the OpenSSH client.

    ssh -T -o BatchMode=yes [-l USER] [-p PORT] [-i KEY] [-o OPT ...] -- HOST \
        'cd WORKDIR && exec env K=V PYTHON -m launcher.cli node - --node-id ... \
         --exit-on-stdin-eof --die-with-parent --run-label RUN'

Why each piece:

- `-T`: no tty, so the remote side sees plain pipes and a closed connection
  is an end of file, not a hang-up a shell might ignore.
- `node -`: the resolved topology is written as one line on the node's stdin,
  so the remote host needs the code, not the run directory.
- `--exit-on-stdin-eof`: stdin then stays open; its end (the launcher closed
  it, the ssh client died, the connection dropped) makes the node SIGTERM
  itself, and SIGKILL itself 10 s later if it has not exited.
- `--die-with-parent`: a second line of defence; `exec` makes the node the
  direct child of sshd's session process, which exits with the connection.
- `exec` (and `env` instead of `export`) keep one process, so the pid the node
  prints (`NODE_PID_MARKER`) is the process a second `ssh HOST kill` reaches.
- `ServerAliveInterval`: a silent network failure is noticed within ~15 s.
- the ssh client runs in its own session, so a terminal's Ctrl-C reaches only
  the launcher, which stops every node in order (see `stop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
from pathlib import Path

import structlog

from launcher.backends.base import STOP_GRACE_S, Backend, Echo, NodeLaunch
from launcher.hosts import HostSpec
from launcher.processes import NodeProcess, wait_all

log = structlog.get_logger("launcher.ssh")
KILL_TIMEOUT_S = 20.0  # a second ssh call: connect (ConnectTimeout) plus `kill`
SSH_OPTIONS = ("BatchMode=yes", "ServerAliveInterval=5", "ServerAliveCountMax=3", "ConnectTimeout=15")


def ssh_command(host: HostSpec, remote: str) -> list[str]:
    """The `ssh` command line that runs the shell command `remote` on `host`."""
    command = ["ssh", "-T", "-p", str(host.port)]
    for option in SSH_OPTIONS:
        command += ["-o", option]
    if host.user:
        command += ["-l", host.user]
    if host.identity_file is not None:
        command += ["-i", str(host.identity_file.expanduser()), "-o", "IdentitiesOnly=yes"]
    for option in host.ssh_options:
        command += ["-o", option]
    return [*command, "--", host.target, remote]


def remote_node_command(launch: NodeLaunch) -> str:
    """The shell command the remote login shell runs: `cd`, then `exec` the node."""
    host = launch.host
    env = [f"{k}={v}" for k, v in sorted(host.env.items())]
    node = launch.node_args("-", "--exit-on-stdin-eof", "--die-with-parent")
    words = ["exec", *(["env", *env] if env else []), host.python, "-m", "launcher.cli", *node]
    command = shlex.join(words)
    if host.workdir:
        command = f"cd {shlex.quote(host.workdir)} && {command}"
    return command


class SshBackend(Backend):
    """Starts every node with the `ssh` client binary (see the module docstring)."""

    name = "ssh"

    async def start(self, launch: NodeLaunch, log_dir: Path, echo: Echo) -> NodeProcess:
        command = ssh_command(launch.host, remote_node_command(launch))
        node = await launch.start_with_spec_on_stdin(command, log_dir, echo, "ssh")
        log.debug("ssh_node_started", node=launch.node_id, host=launch.host.name, pid=node.proc.pid)
        return node

    async def signal(self, node: NodeProcess, sig: signal.Signals) -> None:
        """`kill -s SIG PID` on the node's host, by a second ssh call; without a
        known pid, the local ssh client gets it (its end makes the node stop)."""
        if not node.alive:
            return
        if node.remote_pid is None:
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(sig)
            return
        host = self._host(node.host)
        remote = f"kill -s {sig.name.removeprefix('SIG')} {node.remote_pid}"
        await _run_quietly(ssh_command(host, remote), KILL_TIMEOUT_S)

    async def stop(self, nodes: list[NodeProcess], grace_s: float = STOP_GRACE_S) -> None:
        """End of stdin (the node SIGTERMs itself) -> remote SIGKILL -> local ssh clients killed.

        Stdin is closed at once: a node told to stop by the coordinator is
        stopping anyway, and one that never registered (a failed start, Ctrl-C
        during start-up) would otherwise wait out the grace period for nothing.
        """
        for node in nodes:
            node.close_stdin()
        await _wait_exit(nodes, grace_s)
        stuck = [n for n in nodes if n.alive]
        if stuck:
            log.warning("nodes_killed", nodes=[f"{n.host}/{n.node_id}" for n in stuck])
        await asyncio.gather(*(self.signal(n, signal.SIGKILL) for n in stuck))
        await wait_all(nodes, grace_s)

    def _host(self, name: str) -> HostSpec:
        return next(h for h in self.hosts() if h.name == name)


async def _wait_exit(nodes: list[NodeProcess], timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await asyncio.gather(*(n.proc.wait() for n in nodes))


async def _run_quietly(command: list[str], timeout_s: float) -> int | None:
    """Run `command` to its end (killed after `timeout_s`); its exit code, or None if killed."""
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(timeout_s):
            return await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return None
