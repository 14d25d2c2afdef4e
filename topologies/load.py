"""Read a topology file and refuse it, with every problem named, before anything starts."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from topologies.errors import TopologyError
from topologies.spec import RunSpec


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a file: the dotted field, what is wrong, and the line if found."""

    field: str
    message: str
    line: int | None


class TopologyFileError(TopologyError):
    """The file cannot be read or does not describe a valid run.

    Attributes:
        source: the file's path (or `<string>`).
        problems: every problem found, in file order where lines are known.
    """

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(describe_problems(source, problems))


def describe_problems(source: str, problems: list[Problem]) -> str:
    """`FILE: N problems:` then one `FILE:LINE: field: message` line per problem."""
    lines = [
        f"  {source}:{p.line}: {p.field}: {p.message}" if p.line else f"  {source}: {p.field}: {p.message}"
        for p in problems
    ]
    count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
    return f"{source}: {count}:\n" + "\n".join(lines)


def load_topology(path: str | Path, overrides: Sequence[str] = ()) -> RunSpec:
    """Parse and validate the topology file at `path`, with `key.path=value` overrides.

    Raises:
        TopologyFileError: the file is missing, is not TOML, or fails validation.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TopologyFileError(
            str(path), [Problem("file", f"cannot read it ({exc.strerror})", None)]
        ) from exc
    return parse_topology(text, str(path), overrides)


def parse_topology(text: str, source: str = "<string>", overrides: Sequence[str] = ()) -> RunSpec:
    """Validate topology TOML text (see `load_topology`)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        raise TopologyFileError(source, [Problem("toml", str(exc), line)]) from exc
    for override in overrides:
        apply_override(raw, override, source)
    try:
        return RunSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [problem_of(error, raw, text) for error in exc.errors()]
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise TopologyFileError(source, problems) from exc


def apply_override(raw: dict[str, Any], override: str, source: str = "<string>") -> None:
    """Set `a.b.c=value` in the parsed file; the value is read as TOML (`0.5`,
    `true`, `"x"`, `[1, 2]`, `{ kind = "iid" }`), or taken as a string.

    Raises:
        TopologyFileError: the override is not of the form `key.path=value`, or
            its path runs through a value that is not a table.
    """
    key, sep, text = override.partition("=")
    parts = [p.strip() for p in key.split(".")]
    if not sep or not all(parts):
        raise TopologyFileError(
            source, [Problem("--set", f"expected key.path=value, got {override!r}", None)]
        )
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    table = raw
    for index, part in enumerate(parts[:-1]):
        table = table.setdefault(part, {})
        if not isinstance(table, dict):
            where = ".".join(parts[: index + 1])
            raise TopologyFileError(
                source, [Problem("--set", f"{where} is not a table in {override!r}", None)]
            )
    table[parts[-1]] = value


def problem_of(error: Any, raw: dict[str, Any], text: str) -> Problem:
    path = _user_path(error["loc"], raw)
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] not in ("missing", "extra_forbidden") and not isinstance(error.get("input"), dict):
        message += f" (got {error['input']!r})"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling; see docs/topology.md for the keys this table takes)"
    return Problem(".".join(path) or "(top level)", message, _find_line(text, path))


def _user_path(loc: tuple[Any, ...], raw: dict[str, Any]) -> list[str]:
    """The dotted path as the user wrote it: pydantic's union tags are dropped."""
    parts: list[str] = []
    current: Any = raw
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if (isinstance(current, dict) and part in current) or (
            isinstance(current, list) and isinstance(part, int) and part < len(current)
        ):
            parts.append(str(part))
            current = current[part]
        elif last and not _is_union_tag(current, part):
            parts.append(str(part))
    return parts


def _is_union_tag(table: Any, part: Any) -> bool:
    """pydantic ends a cross-field error's path with the chosen variant's tag
    (`server.fedavg`); the user wrote `server`, so that tag is dropped."""
    tags = ("algorithm", "kind", "template")
    return isinstance(table, dict) and part in {table.get(tag) for tag in tags}


def _find_line(text: str, path: list[str]) -> int | None:
    """The 1-based line where `path` is written, or where its nearest ancestor is."""
    for depth in range(len(path), 0, -1):
        line = _line_of(text, path[: depth - 1], path[depth - 1])
        if line is not None:
            return line
    return None


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _line_of(text: str, table: list[str], key: str) -> int | None:
    current: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            current = [p.strip().strip('"') for p in header.group(1).split(".")]
            if current == [*table, key]:
                return number
            continue
        if current == table and re.match(rf"^\s*\"?{re.escape(key)}\"?\s*=", line):
            return number
    return None
