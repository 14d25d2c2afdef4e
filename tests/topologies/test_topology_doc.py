"""docs/topology.md names every key a topology file can hold, in every table."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from topologies.spec import RunSpec

DOC = Path(__file__).resolve().parents[2] / "docs" / "topology.md"


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _keys(model: type[BaseModel], prefix: str = "", seen: set[Any] | None = None) -> dict[str, str]:
    """Every key's name -> the first dotted path it appears at."""
    seen = set() if seen is None else seen
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        keys.setdefault(name, path)
        for inner in _models(field.annotation):
            if (inner, path) not in seen:
                seen.add((inner, path))
                for key, where in _keys(inner, f"{path}.", seen).items():
                    keys.setdefault(key, where)
    return keys


def _documented(name: str, text: str) -> bool:
    return bool(re.search(rf"`{name}[` ]|\[(?:[a-z_.]+\.)?{name}\]|\b{name} =", text))


def test_every_key_of_the_schema_is_in_the_topology_doc() -> None:
    text = DOC.read_text(encoding="utf-8")

    missing = sorted(path for name, path in _keys(RunSpec).items() if not _documented(name, text))

    assert missing == []
