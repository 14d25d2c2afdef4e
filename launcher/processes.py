"""Node processes as the launcher sees them: start, stream logs, detect death, tear down.

Every child's stderr is streamed back line by line, prefixed with its node id,
saved under `logs/` in the run directory, and its tail kept so that a node
that dies can be reported with its command and last words. The stream is read
in chunks and a line longer than `MAX_LINE_BYTES` is cut (the rest counted),
so no line, however long, stops the reading: a node whose stderr pipe filled
up would block on its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

TAIL_LINES = 20
MAX_LINE_BYTES = 16_384  # of a node's stderr line kept; the rest is counted, not stored
READ_CHUNK_BYTES = 65_536
STOP_GRACE_S = 10.0  # a node flushes its events and closes sockets well within this
NODE_PID_MARKER = "fedactors-node-pid="  # a node's first stderr line: its pid where it runs
_PR_SET_PDEATHSIG = 1


@dataclass(eq=False)
class NodeProcess:
    """A running node process.

    Attributes:
        node_id: the node it runs.
        command: the command line it was started with.
        host: where it runs ("localhost" for the local backend).
        proc: the local child: the node itself, or the client (ssh, srun) that runs it.
        remote_pid: the node's pid on its host, once it printed `NODE_PID_MARKER`.
        pid_known: set when `remote_pid` is.
    """

    node_id: str
    command: list[str]
    proc: asyncio.subprocess.Process
    host: str = "localhost"
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    pump: asyncio.Task[None] | None = None
    remote_pid: int | None = None
    pid_known: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    def close_stdin(self) -> None:
        """Close the child's stdin: a node started with `--exit-on-stdin-eof` then stops."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()

    def describe_failure(self) -> str:
        """Host, command, exit code and the tail of stderr, for the user."""
        tail = "\n".join(f"    {line}" for line in self.tail) or "    (no output)"
        return (
            f"node {self.node_id!r} on {self.host} exited with code {self.proc.returncode}\n"
            f"  command: {' '.join(self.command)}\n  last stderr lines:\n{tail}"
        )


async def start_process(
    node_id: str,
    command: list[str],
    log_dir: Path,
    echo: Callable[[str], None],
    host: str = "localhost",
    *,
    stdin: bytes | None = None,
    new_session: bool = False,
) -> NodeProcess:
    """Start `command` with its stderr streamed to `echo` and to `log_dir/<node_id>.log`.

    Args:
        stdin: written to the child's stdin, which then stays open until
            `close_stdin` (or this process's death) closes it; None: no stdin.
        new_session: start it in its own session, so that a terminal's Ctrl-C
            reaches only the launcher, which then stops it in order.

    Raises:
        OSError: the command cannot be executed (e.g. the binary is missing).
    """
    proc = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=new_session,
    )
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
    node = NodeProcess(node_id, command, proc, host)
    node.pump = asyncio.create_task(_pump(node, log_dir / f"{node_id}.log", echo), name=f"pump-{node_id}")
    return node


class LineCutter:
    """Splits a byte stream into lines of at most `max_bytes` (a longer line's rest is
    dropped and its size noted at the end of the line).

    Args:
        max_bytes: bytes kept of one line.
    """

    def __init__(self, max_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._line = bytearray()
        self._cut = 0

    def feed(self, chunk: bytes) -> list[str]:
        """The lines that `chunk` completes."""
        *complete, rest = chunk.split(b"\n")
        lines = []
        for part in complete:
            self._take(part)
            lines.append(self._emit())
        self._take(rest)
        return lines

    def end(self) -> list[str]:
        """The last line, if the stream ended without a newline."""
        return [self._emit()] if self._line or self._cut else []

    def _take(self, part: bytes) -> None:
        room = self.max_bytes - len(self._line)
        self._line += part[:room]
        self._cut += max(0, len(part) - room)

    def _emit(self) -> str:
        line = self._line.decode(errors="replace").rstrip()
        if self._cut:
            line += f" ...[{self._cut} more bytes cut]"
        self._line.clear()
        self._cut = 0
        return line


async def _pump(node: NodeProcess, log_path: Path, echo: Callable[[str], None]) -> None:
    stream = node.proc.stderr
    assert stream is not None
    cutter = LineCutter()
    with log_path.open("a", encoding="utf-8") as log:  # a resumed run adds to its nodes' logs
        while chunk := await stream.read(READ_CHUNK_BYTES):
            for line in cutter.feed(chunk):
                _take_line(node, line, log, echo)
        for line in cutter.end():
            _take_line(node, line, log, echo)


def _take_line(node: NodeProcess, line: str, log: TextIO, echo: Callable[[str], None]) -> None:
    with contextlib.suppress(OSError):  # a full disk must not stop the reading (the node would block)
        log.write(line + "\n")
        log.flush()
    pid = line.removeprefix(NODE_PID_MARKER)
    if line.startswith(NODE_PID_MARKER) and pid.isdigit() and node.remote_pid is None:
        node.remote_pid = int(pid)
        node.pid_known.set()
        line = f"started (pid {pid})"
    else:
        node.tail.append(line)
    echo(f"[{node.host}/{node.node_id}] {line}")


async def wait_all(nodes: list[NodeProcess], timeout_s: float = STOP_GRACE_S) -> None:
    """Wait for every process to exit; SIGTERM, then SIGKILL, those that do not in time."""
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        alive = [n for n in nodes if n.proc.returncode is None]
        if not alive:
            break
        for n in alive:
            if sig is not None:
                with contextlib.suppress(ProcessLookupError):
                    n.proc.send_signal(sig)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(n.proc.wait() for n in alive))
    pumps = [n.pump for n in nodes if n.pump is not None]
    await asyncio.gather(*pumps, return_exceptions=True)


def die_with_parent(parent_pid: int) -> None:
    """Make the kernel SIGTERM this process when its parent dies (Linux), so that a
    launcher killed with SIGKILL leaves no orphan node behind."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
