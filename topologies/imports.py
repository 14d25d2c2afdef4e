"""Resolve the `module:attr` import paths that topology files use for user code.

A user's module is found, after the installed packages, in the folders
registered with `add_import_paths`: the loader registers the topology file's
own folder and the working directory, so `path = "rules:GeoMedian"` finds a
`rules.py` next to the file with no `PYTHONPATH`.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from topologies.errors import ImportPathError
from topologies.limits import shorten

#: The folders registered for user modules, in the order they are searched.
_SEARCHED: list[str] = []


def add_import_paths(paths: Iterable[str | Path]) -> None:
    """Let `module:attr` paths import from these folders (appended to `sys.path` once each)."""
    for path in paths:
        folder = str(Path(path).resolve())
        if folder not in _SEARCHED:
            _SEARCHED.append(folder)
        if folder not in sys.path:
            sys.path.append(folder)


def resolve_import(path: str) -> Any:
    """Import `module:attr` (attr may be dotted) and return the object.

    Raises:
        ImportPathError: the path is not of the form `module:attr`, the module
            cannot be imported (or raised while importing), or it has no such attribute.
    """
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        raise ImportPathError(path, "expected the form 'package.module:attribute'")
    if module_name.startswith("."):
        raise ImportPathError(path, "relative module names are not supported: name the module in full")
    obj: Any = _import(path, module_name)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise ImportPathError(path, f"module {module_name!r} has no attribute {attr!r}") from exc
    return obj


def _import(path: str, module_name: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and module_name.startswith(exc.name):
            reason = f"cannot import module {module_name!r}: no module named {exc.name!r}; {_where()}"
            raise ImportPathError(path, reason) from exc
        raise ImportPathError(path, f"importing {module_name!r} failed: {exc}") from exc
    except (Exception, SystemExit) as exc:  # the user's module is user code: any error is theirs
        raise ImportPathError(path, f"importing {module_name!r} raised {described_error(exc)}") from exc


def _where() -> str:
    folders = f" and in {', '.join(_SEARCHED)}" if _SEARCHED else ""
    return (
        f"looked in the installed packages{folders}: put the module's .py file next to the "
        "topology file (or in the working directory), or install it"
    )


def described_error(exc: BaseException) -> str:
    """`TypeName: message (file:line)`, the line being the innermost frame of the user's code."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f"{f.filename}:{f.lineno}" for f in reversed(frames) if "importlib" not in f.filename), "")
    line = shorten(str(exc).splitlines()[0], 200) if str(exc) else ""
    return f"{type(exc).__name__}: {line}" + (f" ({where})" if where else "")


def check_signature(path: str, obj: Any, call: str, *args: Any, **kwargs: Any) -> None:
    """Refuse `obj` if it cannot be called with these arguments (`call` shows how it will be).

    An object whose signature Python cannot read (some builtins) passes.

    Raises:
        ImportPathError: `obj` is not callable, or its parameters do not take these arguments.
    """
    if not callable(obj):
        raise ImportPathError(path, f"{type(obj).__name__} object is not callable; expected {call}")
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        name = getattr(obj, "__name__", type(obj).__name__)
        raise ImportPathError(path, f"{name}{signature} cannot be called as {call} ({exc})") from None
