"""Read a topology file and refuse it, with every problem named, before anything starts."""

from __future__ import annotations

import datetime
import json
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from topologies.errors import TopologyError
from topologies.limits import MAX_FILE_BYTES, shorten
from topologies.spec import RunSpec

M = TypeVar("M", bound=BaseModel)


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
    """`FILE: N problems:` then one `FILE:LINE: field: message` line per problem
    (fields and messages cut short, so a huge value is never echoed whole)."""
    lines = []
    for p in problems:
        where = f"{source}:{p.line}" if p.line else source
        lines.append(f"  {where}: {shorten(p.field)}: {shorten(p.message, 400)}")
    count = f"{len(problems)} problem" + ("s" if len(problems) != 1 else "")
    return f"{source}: {count}:\n" + "\n".join(lines)


def load_topology(path: str | Path, overrides: Sequence[str] = ()) -> RunSpec:
    """Parse and validate the topology file at `path`, with `key.path=value` overrides.

    `module:attr` paths in it import from the file's folder and the working
    directory too (after the installed packages).

    Raises:
        TopologyFileError: the file is missing, is not UTF-8 TOML, or fails validation.
    """
    path = Path(path)
    text = read_text_file(path, TopologyFileError)
    return parse_topology(text, str(path), overrides, import_paths=(path.parent, Path.cwd()))


def read_text_file(path: Path, error: Callable[[str, list[Problem]], Exception]) -> str:
    """The file's text, or `error(source, problems)` raised saying why it cannot be read."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            size = path.stat().st_size
            problem = Problem("file", f"is {size} bytes, more than the limit of {MAX_FILE_BYTES}", None)
            raise error(str(path), [problem])
        data = path.read_bytes()
    except OSError as exc:
        raise error(str(path), [Problem("file", f"cannot read it ({exc.strerror})", None)]) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problem = Problem("file", f"is not UTF-8 text (byte 0x{data[exc.start]:02x})", line)
        raise error(str(path), [problem]) from None


def parse_toml(text: str, source: str, error: Callable[[str, list[Problem]], Exception]) -> dict[str, Any]:
    """The TOML document, or `error(source, problems)` raised naming the line at fault."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = shorten(str(exc).splitlines()[0] if str(exc) else "not TOML", 200)
        raise error(source, [Problem("toml", message, getattr(exc, "lineno", None))]) from None
    except RecursionError:
        problem = Problem("toml", "tables or arrays are nested too deeply to read", None)
        raise error(source, [problem]) from None
    return raw


def parse_topology(
    text: str,
    source: str = "<string>",
    overrides: Sequence[str] = (),
    import_paths: Sequence[str | Path] = (),
) -> RunSpec:
    """Validate topology TOML text (see `load_topology`); `import_paths` are the
    folders user modules import from besides the installed packages.

    Types are strict: `clients = "20"` is refused, not read as 20.

    Raises:
        TopologyFileError: as `load_topology`.
    """
    raw = parse_toml(text, source, TopologyFileError)
    if "import_paths" in raw:
        line = _find_line(text, ["import_paths"])
        problem = Problem("import_paths", "is set by the loader, not in topology files", line)
        raise TopologyFileError(source, [problem])
    for override in overrides:
        apply_override(raw, override, source)
    if import_paths:
        raw["import_paths"] = [str(Path(p).resolve()) for p in import_paths]
    spec = validate_model(RunSpec, raw, text, source, TopologyFileError)
    problems = runnable_problems(spec, text)
    if problems:
        raise TopologyFileError(source, problems)
    return spec


def validate_model(
    model: type[M],
    raw: dict[str, Any],
    text: str,
    source: str,
    error: Callable[[str, list[Problem]], Exception],
) -> M:
    """`model` validated from `raw` with strict types, or `error(source, problems)` raised,
    one problem per field at fault, in file order (a TOML date is one: JSON has none)."""
    try:
        dated = _first_date(raw, [])  # after any --set: an override can write a date too
        if dated is not None:
            message = "dates and times are not values this file takes"
            raise error(source, [Problem(".".join(dated), message, _find_line(text, dated))])
        return model.model_validate_json(json.dumps(raw), strict=True)
    except ValidationError as exc:
        problems = [problem_of(e, raw, text) for e in exc.errors()]
        problems.sort(key=lambda p: (p.line is None, p.line or 0))
        raise error(source, problems) from None
    except RecursionError:
        raise error(source, [Problem("(top level)", "values are nested too deeply to check", None)]) from None


def runnable_problems(spec: RunSpec, text: str) -> list[Problem]:
    """What the schema alone cannot see but a run would meet: the placement's actors."""
    from topologies.placement import PlacementError, plan_processes  # placement imports this module's spec

    try:
        plan_processes(spec, spec.graph.build())
    except PlacementError as exc:
        return [Problem(exc.field, shorten(exc.reason, 300), line_of_field(text, exc.field))]
    return []


def line_of_field(text: str, field: str) -> int | None:
    """The line where the dotted `field` (or its nearest ancestor) is written in `text`."""
    return _find_line(text, field.split("."))


def _first_date(value: Any, path: list[str]) -> list[str] | None:
    """The path to the first TOML date or time in `value` (JSON, hence the schema, has none)."""
    if isinstance(value, datetime.date | datetime.time):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_date(item, [*path, str(key)])
        if found is not None:
            return found
    return None


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
        message += f" (got {shorten(repr(error['input']))})"
    elif error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling; see docs/topology.md for the keys this table takes)"
    if not path:
        path = _field_named_in(message, raw)
        message = message.removeprefix(f"{'.'.join(path)}: ")
    return Problem(".".join(path) or "(top level)", message, _find_line(text, path))


_DOTTED = re.compile(r"\b([a-z_]+(?:\.[a-z_0-9]+)+)\b")
_TABLE = re.compile(r"\[([a-z_]+(?:\.[a-z_]+)*)\]")


def _field_named_in(message: str, raw: dict[str, Any]) -> list[str]:
    """A whole-file check's message names the field it is about (`set server.task_timeout_s`,
    `add a [server] table`): the first dotted name whose table the file has, or a table header."""
    for match in _DOTTED.finditer(message):
        parts = match.group(1).split(".")
        if parts[0] in raw:
            return parts
    table = _TABLE.search(message)
    return table.group(1).split(".") if table else []


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
