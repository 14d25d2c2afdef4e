"""Errors raised while loading and validating a topology file."""

from __future__ import annotations


class TopologyError(Exception):
    """Base class: the topology declaration is wrong; nothing was started."""


class ImportPathError(TopologyError):
    """A `module:attr` path names nothing importable.

    Attributes:
        path: the path as written in the file.
        reason: what went wrong (missing module, missing attribute, bad form).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"import path {path!r}: {reason}")
