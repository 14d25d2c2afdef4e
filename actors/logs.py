"""structlog set-up shared by every fedactors process.

One canonical line per event, with the node and actor bound by the runtime.
Console output for people, JSON lines for machines (`fmt="json"`), both on
stderr so that stdout stays free for a command's own output.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal, TextIO

import structlog


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is at the time of the write, so a logger
    configured while stderr was redirected (a test's capture) never writes to a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream or _CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
