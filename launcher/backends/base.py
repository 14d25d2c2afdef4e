"""The backend interface: how the launcher starts node processes somewhere, and stops them.

A backend turns one `NodeLaunch` (a node id, the host it goes to, and how it
meets the coordinator) into a `NodeProcess`: a *local* child process whose
stderr streams back through `launcher.processes` — the node itself (`local`),
an OpenSSH client running it on another machine (`ssh`), or `srun` running it
on an allocated node (`slurm`). The launcher never looks inside a backend:

    backend = SshBackend(hosts_spec)             # every backend: Backend(hosts: HostsSpec)
    machines = backend.hosts()                   # where nodes may go, in order
    node = await backend.start(launch, log_dir, echo)   # one per node
    ...                                          # node.proc exits => the node died
    await backend.signal(node, signal.SIGKILL)   # reaches the node itself (remote pid)
    await backend.stop(nodes)                    # graceful, then forceful; no orphans left

Contract every backend keeps:

- `start` returns as soon as the process is running; it does not wait for the
  node to register (the launcher's rendezvous does). It raises
  `BackendError` only when nothing could be started at all (binary missing).
- `NodeProcess.proc` exits when the node exits, wherever it runs, and its
  stderr carries the node's stderr (so the tail explains a failure).
- the node prints `NODE_PID_MARKER<pid>` on its first stderr line;
  `processes._pump` records it as `NodeProcess.remote_pid`.
- `stop` returns only when every node it was given is gone, on every host.
- losing the launcher (even by SIGKILL) makes every node exit: the local
  backend by PDEATHSIG, remote ones because the node watches its stdin
  (`--exit-on-stdin-eof`) and the connection carrying it closes.
"""

from __future__ import annotations

import abc
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from launcher.errors import LauncherError
from launcher.hosts import HostSpec, HostsSpec
from launcher.keys import node_stdin
from launcher.processes import STOP_GRACE_S, NodeProcess, start_process, wait_all

__all__ = ["STOP_GRACE_S", "Backend", "BackendError", "Echo", "NodeLaunch"]

Echo = Callable[[str], None]


class BackendError(LauncherError):
    """A backend could not start a node at all (as opposed to a node that started and died).

    Attributes:
        node_id: the node it was starting.
        host: the host it was meant for.
        command: the command line it tried.
    """

    def __init__(self, node_id: str, host: str, command: list[str], reason: str) -> None:
        self.node_id = node_id
        self.host = host
        self.command = command
        super().__init__(f"cannot start node {node_id!r} on {host}: {reason}\n  command: {' '.join(command)}")


@dataclass(frozen=True, slots=True)
class NodeLaunch:
    """Everything a backend needs to start one `fedactors node`.

    Attributes:
        node_id: the node (its plan is in the spec's `placement.nodes`).
        host: where it runs, with that host's settings (`launcher.hosts.HostSpec`).
        spec_path: the resolved `topology.json` in the run directory, on the launcher's machine.
        coordinator: the launcher's endpoint as this node must dial it.
        bind: what the node binds (`tcp://ADDR:*`: an ephemeral port).
        advertise: the address peers dial to reach it, if not the bound one.
        run_label: put on the node's command line (`--run-label`) so that the
            run's processes can be found on any host (`pgrep -f LABEL`).
    """

    node_id: str
    host: HostSpec
    spec_path: Path
    coordinator: str
    bind: str
    advertise: str | None = None
    run_label: str | None = None

    def node_args(self, spec: str, *extra: str) -> list[str]:
        """`node SPEC --node-id .. --coordinator .. --bind .. [--advertise ..] EXTRA`.

        The arguments after `python -m launcher.cli`; `spec` is `str(spec_path)`
        on a shared file system, or `-` to ship the spec on the node's stdin.
        """
        args = [
            "node",
            spec,
            "--node-id",
            self.node_id,
            "--coordinator",
            self.coordinator,
            "--bind",
            self.bind,
        ]
        if self.advertise is not None:
            args += ["--advertise", self.advertise]
        if self.run_label is not None:
            args += ["--run-label", self.run_label]
        return [*args, *extra]

    async def start_with_spec_on_stdin(
        self, command: list[str], log_dir: Path, echo: Callable[[str], None], what: str
    ) -> NodeProcess:
        """Run `command` (which starts the node remotely) in its own session, the
        resolved topology written to its stdin as one line (and, with a key
        pair per node, a line of this node's keys: `launcher.keys.node_stdin`).

        Raises:
            BackendError: `command` cannot be executed (`what` names the program).
        """
        lines = node_stdin(self.spec_path.read_text(encoding="utf-8"), self.node_id)
        try:
            stdin = lines.encode()
            return await start_process(
                self.node_id, command, log_dir, echo, self.host.name, stdin=stdin, new_session=True
            )
        except OSError as exc:
            raise BackendError(self.node_id, self.host.name, command, f"cannot run {what} ({exc})") from exc


class Backend(abc.ABC):
    """Starts and stops node processes (see the module docstring for the contract).

    Args:
        spec: the hosts file (its `[hosts]`, `[defaults]`, and the backend's own table).
    """

    name: str

    def __init__(self, spec: HostsSpec) -> None:
        self.spec = spec

    def hosts(self) -> list[HostSpec]:
        """The hosts node processes may go to, in order (the first gets the server
        unless a pin says otherwise). Default: the file's hosts; a backend whose
        machines come from elsewhere (a Slurm allocation) overrides it."""
        return self.spec.resolved()

    def launcher_dial(self) -> str | None:
        """The address nodes dial to reach the launcher's coordinator: `[launcher]
        advertise`, else its bind address. A backend that knows better (the
        Slurm allocation's host name) overrides it."""
        return self.spec.launcher.dial

    @abc.abstractmethod
    async def start(self, launch: NodeLaunch, log_dir: Path, echo: Echo) -> NodeProcess:
        """Start one node; its stderr goes to `echo` (prefixed `[host/node]`) and `log_dir/<node>.log`.

        Raises:
            BackendError: nothing could be started (e.g. the client binary is missing).
        """

    @abc.abstractmethod
    async def signal(self, node: NodeProcess, sig: signal.Signals) -> None:
        """Deliver `sig` to the node process itself, wherever it runs (no-op once it exited)."""

    async def stop(self, nodes: list[NodeProcess], grace_s: float = STOP_GRACE_S) -> None:
        """Stop every node: wait `grace_s` for those already told to stop, then SIGTERM, then SIGKILL.

        The default signals the local child processes; remote backends override
        it to reach the remote processes too.
        """
        await wait_all(nodes, grace_s)
