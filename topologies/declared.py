"""What the `explicit` template declares: nodes (one, or a numbered group), edges (one,
or a fan to a group), and a CSV edge list read when the topology is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from topologies.edges_csv import read_edge_rows
from topologies.errors import EdgeListError
from topologies.graph import Role
from topologies.limits import MAX_NODES

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$", max_length=64)]
#: A count of nodes, at most `MAX_NODES` (see topologies.limits).
Count = Annotated[int, Field(gt=0, le=MAX_NODES)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NodeDeclSpec(_Spec):
    """One node (`id`), or `count` identical nodes `group-0`, `group-1`, …"""

    id: NodeId | None = None
    group: NodeId | None = None
    count: Count | None = None
    role: Role

    @model_validator(mode="after")
    def _one_form(self) -> NodeDeclSpec:
        if (self.id is None) == (self.group is None):
            raise ValueError("give id, or group with count, exactly one")
        if (self.group is None) != (self.count is None):
            raise ValueError("group and count go together")
        return self

    def ids(self) -> list[str]:
        return [self.id] if self.id is not None else [f"{self.group}-{i}" for i in range(self.count or 0)]


class EdgeDeclSpec(_Spec):
    """An edge, or a fan of edges between a node and every node of a group.

    Attributes:
        link: free-form settings for the link model (read by later layers).
        codec: how updates on this edge are encoded (read by later layers).
        weight: this edge's gossip mixing weight (mixing kind `given`).
    """

    source: NodeId | None = None
    source_group: NodeId | None = None
    target: NodeId | None = None
    target_group: NodeId | None = None
    link: dict[str, Any] = Field(default_factory=dict)
    codec: str | None = None
    weight: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _ends(self) -> EdgeDeclSpec:
        for end in ("source", "target"):
            if (getattr(self, end) is None) == (getattr(self, f"{end}_group") is None):
                raise ValueError(f"give {end} or {end}_group, exactly one")
        if self.source_group is not None and self.target_group is not None:
            raise ValueError("source_group and target_group together: list the edges, or use edges_csv")
        return self

    def attrs(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {"link": dict(self.link)} if self.link else {}
        if self.codec is not None:
            attrs["codec"] = self.codec
        if self.weight is not None:
            attrs["weight"] = self.weight
        return attrs


class CsvEdgesSpec(_Spec):
    """The edges of an `edges_csv` file, read when the topology is loaded.

    Attributes:
        path: the file as written (relative paths are taken from the working directory).
        edges: its rows.
    """

    path: str
    edges: tuple[EdgeDeclSpec, ...]


def csv_edges_from_path(value: Any) -> Any:
    """A path becomes `{path, edges}`; an already-read table (a resolved topology) passes through."""
    if not isinstance(value, str | Path):
        return value
    try:
        return {"path": str(value), "edges": read_edges_csv(Path(value))}
    except EdgeListError as exc:
        raise ValueError(str(exc)) from exc


def read_edges_csv(path: Path) -> list[EdgeDeclSpec]:
    """The edges of a CSV edge list (see `topologies.edges_csv` for its columns).

    Raises:
        EdgeListError: the file cannot be read, or a row is not an edge (its line is named).
    """
    edges = []
    for line, fields in read_edge_rows(path):
        try:
            edges.append(EdgeDeclSpec.model_validate(fields))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            raise EdgeListError(str(path), line, f"{where}: {message}" if where else message) from exc
    return edges
