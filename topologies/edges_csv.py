"""Read an `edges_csv` file: the edges of an explicit graph, one per row.

    source,target,codec,weight,link.latency_s
    server,c-0,fp16,,0.05
    server,c-1,,,

The header names the columns: `source` and `target` are required; `codec`,
`weight` and `link.<key>` columns are optional. Empty cells are left out;
`link.*` cells that read as numbers or booleans become them.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from topologies.errors import EdgeListError

OPTIONAL_COLUMNS = ("codec", "weight")


def read_edge_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Each row as `(line, fields)`, fields shaped like an `edges = [...]` entry of the file.

    Raises:
        EdgeListError: the file is unreadable, its header lacks `source` or
            `target` or names an unknown column, or a row has more cells than columns.
    """
    try:
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file)
            _check_columns(str(path), reader.fieldnames)
            return [(reader.line_num, _fields(str(path), reader.line_num, row)) for row in reader]
    except OSError as exc:
        raise EdgeListError(str(path), None, f"cannot read it ({exc.strerror})") from exc


def _check_columns(path: str, header: Any) -> None:
    columns = list(header or [])
    for required in ("source", "target"):
        if required not in columns:
            raise EdgeListError(path, 1, f"the header needs a {required!r} column, got {columns}")
    for column in columns:
        if column not in ("source", "target", *OPTIONAL_COLUMNS) and not column.startswith("link."):
            raise EdgeListError(
                path, 1, f"unknown column {column!r}; columns are source, target, codec, weight, link.<key>"
            )


def _fields(path: str, line: int, row: dict[str | None, Any]) -> dict[str, Any]:
    if None in row:  # csv.DictReader files surplus cells under the key None
        raise EdgeListError(path, line, "more cells than columns")
    fields: dict[str, Any] = {}
    for column, cell in row.items():
        assert column is not None
        if cell is None or not cell.strip():
            continue
        if column.startswith("link."):
            fields.setdefault("link", {})[column.removeprefix("link.")] = _cell_value(cell.strip())
        else:
            fields[column] = cell.strip()
    return fields


def _cell_value(cell: str) -> Any:
    if cell.lower() in ("true", "false"):
        return cell.lower() == "true"
    for kind in (int, float):
        try:
            return kind(cell)
        except ValueError:
            pass
    return cell
