"""Package exports imported on first use (PEP 562).

`from actors import Node` still works, but `import actors.configs.servers` (the
topology schema, `fedactors validate`) no longer runs the runtime and torch
that a package's exports pull in: torch's import alone is ~2 s.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`, whose name `n` is `exports[n]`'s attribute `n`.

    Raises:
        AttributeError: (from `__getattr__`) the package exports no such name.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # once: later lookups do not come here
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(sys.modules[package])))

    return __getattr__, __dir__


class LazyModule:
    """A module imported on first attribute access: `torch = LazyModule("torch")` lets a module
    whose classes the topology schema needs (configs with methods) load without torch."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)
