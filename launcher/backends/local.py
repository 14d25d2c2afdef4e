"""The `local` backend: node processes on this machine, children of the launcher.

What `fedactors run --mode local` uses. Each node gets `--die-with-parent`
(PDEATHSIG), so even a launcher killed with SIGKILL leaves no node behind.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from pathlib import Path

from launcher.backends.base import Backend, BackendError, Echo, NodeLaunch
from launcher.processes import NodeProcess, start_process


class LocalBackend(Backend):
    """Runs `python -m launcher.cli node ...` as a child process, with this Python."""

    name = "local"

    async def start(self, launch: NodeLaunch, log_dir: Path, echo: Echo) -> NodeProcess:
        command = [
            sys.executable,
            "-m",
            "launcher.cli",
            *launch.node_args(str(launch.spec_path), "--die-with-parent"),
        ]
        try:
            return await start_process(launch.node_id, command, log_dir, echo, launch.host.name)
        except OSError as exc:
            raise BackendError(launch.node_id, launch.host.name, command, str(exc)) from exc

    async def signal(self, node: NodeProcess, sig: signal.Signals) -> None:
        if node.alive:
            with contextlib.suppress(ProcessLookupError):
                node.proc.send_signal(sig)
