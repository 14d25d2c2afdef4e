"""No module over 400 lines, no function over 40, across the four packages ([9 house]).

A module nearing 400 lines is usually two concepts, and a function past 40 lines
several named steps (docs STYLE.md, "Size"). Read from the source with `ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.architecture.imports import project_modules

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 40
# Owned elsewhere and shrinking in its own change: the codec ([9 house] item 5, typed wire trees).
EXEMPT_MODULES = {"actors.codec"}


def module_lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def long_functions(path: Path, limit: int) -> list[tuple[str, int]]:
    """(qualified name, lines) of each function in `path` longer than `limit` lines, decorators aside."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = f"{prefix}{getattr(child, 'name', '')}"
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                if lines > limit:
                    found.append((name, lines))
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, name + ".")

    visit(ast.parse(path.read_text()), "")
    return found


def test_long_functions_are_found_by_their_qualified_name(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    lines = ["class A:", "    def f(self):", "        a = 1", "        b = 2", "        return a + b", ""]
    source.write_text("\n".join([*lines, "", "def g():", "    pass", ""]))

    assert long_functions(source, 3) == [("A.f", 4)]
    assert module_lines(source) == 9


def test_no_module_over_400_lines() -> None:
    offenders = {
        name: lines
        for name, path in project_modules().items()
        if name not in EXEMPT_MODULES and (lines := module_lines(path)) > MAX_MODULE_LINES
    }

    assert offenders == {}, f"modules over {MAX_MODULE_LINES} lines: {offenders}"


def test_no_function_over_40_lines() -> None:
    offenders = {
        f"{name}.{function}": lines
        for name, path in project_modules().items()
        for function, lines in long_functions(path, MAX_FUNCTION_LINES)
    }

    assert offenders == {}, f"functions over {MAX_FUNCTION_LINES} lines: {offenders}"
