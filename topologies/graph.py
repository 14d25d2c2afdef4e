"""The graph a topology declares: nodes with roles, and directed parent→child edges.

Templates build it (`builders.py`); everything downstream (placement, the
launcher, the simulation) reads only this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["server", "scheduler", "client", "peer"]


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One actor of the run.

    Attributes:
        id: unique actor name.
        role: what it does.
        index: its position among the nodes of its role (data shard, seed offset).
    """

    id: str
    role: Role
    index: int


@dataclass(frozen=True, slots=True)
class Edge:
    """A link: for star and hierarchy, `source` is the parent of `target`.

    Attributes:
        attrs: per-edge settings later layers read (link model, codec).
    """

    source: str
    target: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in declaration order and their edges."""

    nodes: tuple[GraphNode, ...]
    edges: tuple[Edge, ...]

    def of_role(self, role: Role) -> list[GraphNode]:
        return [n for n in self.nodes if n.role == role]

    def parent_of(self, node_id: str) -> str | None:
        """The source of the edge into `node_id` (None for a root)."""
        for edge in self.edges:
            if edge.target == node_id:
                return edge.source
        return None

    def node(self, node_id: str) -> GraphNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)
