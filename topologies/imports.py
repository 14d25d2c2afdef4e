"""Resolve the `module:attr` import paths that topology files use for user code."""

from __future__ import annotations

import importlib
from typing import Any

from topologies.errors import ImportPathError


def resolve_import(path: str) -> Any:
    """Import `module:attr` (attr may be dotted) and return the object.

    Raises:
        ImportPathError: the path is not of the form `module:attr`, the module
            cannot be imported, or it has no such attribute.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ImportPathError(path, "expected the form 'package.module:attribute'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportPathError(path, f"cannot import module {module_name!r} ({exc})") from exc
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ImportPathError(path, f"module {module_name!r} has no attribute {attr!r}") from exc
    return obj
