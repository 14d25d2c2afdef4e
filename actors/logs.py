"""structlog set-up shared by every fedactors process.

One canonical line per event, with the node and actor bound by the runtime.
Console output for people, JSON lines for machines (`fmt="json"`), both on
stderr so that stdout stays free for a command's own output.

A log line can never explode or block, whatever a peer sends:
- every string field is cut to `MAX_FIELD_CHARS` characters (its length is
  kept), so a 70,000-character actor name costs a line of ordinary size;
- `sampled(count)` says which of a run of drops to log (each of the first few,
  then every power of two), so a flood of bad messages is a handful of lines;
- a node process writes its log from a thread (`log_off_the_loop`) through a
  bounded queue: a stderr pipe that nobody drains stalls that thread, never
  the event loop, and lines that do not fit are counted and reported later.
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import Any, Literal, TextIO

import structlog

MAX_FIELD_CHARS = 120  # a name or kind longer than this is a peer's doing, not ours
MAX_EXCEPTION_CHARS = 8_000  # a traceback may quote a peer's string too
LOG_FIRST = 10  # `sampled`: log each of the first this many, then at every power of two
LOG_QUEUE_LINES = 10_000  # lines a node holds while its stderr is not drained (~10 MB at most)
EXIT_FLUSH_S = 2.0  # at exit, wait this long at most for the writer to empty its queue


def sampled(count: int) -> bool:
    """Whether the `count`-th occurrence of something should be logged: each of the
    first `LOG_FIRST`, then only the powers of two (a flood of 10^6 costs ~30 lines)."""
    return count <= LOG_FIRST or count & (count - 1) == 0


def cut(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    """`text`, or its first `limit` characters and its length when it is longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...({len(text)} chars)"


def cap_strings(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: cut every string field (see `cut`); tracebacks to `MAX_EXCEPTION_CHARS`."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = cut(value, MAX_EXCEPTION_CHARS if key == "exception" else MAX_FIELD_CHARS)
    return event


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time of the write, so a logger
    configured while stderr was redirected (a test's capture) never writes to a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class BackgroundWriter:
    """A file-like sink that hands each line to a writer thread through a bounded queue.

    `write` never blocks: when the queue is full the line is dropped and
    counted (`dropped`); the writer reports the count in a line of its own
    once it can write again.

    Args:
        out: where the thread writes (default: the current `sys.stderr`).
        capacity: lines queued at most.
    """

    def __init__(self, out: TextIO | None = None, capacity: int = LOG_QUEUE_LINES) -> None:
        self._out = out
        self._queue: queue.Queue[str] = queue.Queue(capacity)
        self.dropped = 0
        self._reported = 0
        self._thread = threading.Thread(target=self._drain, name="log-writer", daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            self.dropped += 1
        return len(text)

    def flush(self) -> None:
        """Nothing to do: the writer thread flushes after every line."""

    def wait_empty(self, timeout_s: float = EXIT_FLUSH_S) -> bool:
        """Wait (up to `timeout_s`) until every queued line is written; whether it was."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)  # a thread-side wait at exit, never on the event loop
        return not self._queue.unfinished_tasks

    def _drain(self) -> None:
        while True:
            text = self._queue.get()
            try:
                out = self._out or sys.stderr
                if self.dropped != self._reported:
                    lost, self._reported = self.dropped - self._reported, self.dropped
                    out.write(f"log_lines_dropped count={lost} total={self.dropped} (stderr not drained)\n")
                out.write(text)
                out.flush()
            except (OSError, ValueError):  # stderr closed or broken: nothing left to tell
                pass
            finally:
                self._queue.task_done()


_tracebacks = 0


def _count_tracebacks(
    logger: object, method: str, event_dict: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    global _tracebacks
    if event_dict.get("exc_info"):
        _tracebacks += 1
    return event_dict


def tracebacks_logged() -> int:
    """How many log lines of this process carried a traceback: the command's exit
    code is then non-zero, whatever the run's outcome (`fedactors` main)."""
    return _tracebacks


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(
    level: str = "info", fmt: Literal["console", "json"] = "console", stream: TextIO | None = None
) -> None:
    """Configure structlog for this process.

    Raises:
        ValueError: `level` is not one of debug, info, warning, error.
    """
    if level not in _LEVELS:
        raise ValueError(f"log level must be one of {sorted(_LEVELS)}, got {level!r}")
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _count_tracebacks,
            structlog.processors.format_exc_info,
            cap_strings,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.WriteLoggerFactory(stream or _CurrentStderr()),  # type: ignore[arg-type]  # write+flush suffice
        cache_logger_on_first_use=False,
    )


def log_off_the_loop(capacity: int = LOG_QUEUE_LINES) -> BackgroundWriter:
    """Make this process's log lines go through a `BackgroundWriter` (node processes).

    The level and format set by `configure_logging` stay; at exit the writer
    gets `EXIT_FLUSH_S` to write what it still holds.
    """
    writer = BackgroundWriter(capacity=capacity)
    structlog.configure(logger_factory=structlog.WriteLoggerFactory(writer))  # type: ignore[arg-type]  # write+flush suffice
    atexit.register(writer.wait_empty)
    return writer
