"""Errors raised by the launcher before or while it starts node processes."""

from __future__ import annotations


class LauncherError(Exception):
    """Base class: the launcher cannot start, or keep running, a run."""
