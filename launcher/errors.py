"""Errors raised by the launcher before or while it starts node processes."""

from __future__ import annotations


class LauncherError(Exception):
    """Base class: the launcher cannot start, or keep running, a run."""


class ResumeError(LauncherError):
    """`fedactors run --resume RUN_DIR` cannot continue that run.

    Attributes:
        run_dir: the directory given.
        reason: why not, and what to do instead.
    """

    def __init__(self, run_dir: str, reason: str) -> None:
        self.run_dir = run_dir
        self.reason = reason
        super().__init__(f"cannot resume {run_dir}: {reason}")
