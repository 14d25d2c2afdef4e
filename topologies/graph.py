"""The graph a topology declares: nodes with roles, and the edges between them.

Two kinds of graph run:

- a **tree** (`star`, `hierarchy`, or `explicit` with servers, schedulers and
  clients): edges are directed parent → child, rooted at one server, with
  clients at the leaves;
- a **gossip** graph (`ring`, `torus`, …, or `explicit` with peers): every
  node is a `peer`; edges are undirected and stored once, `source < target`.

Templates build it (`builders.py`), `validate.py` checks it; everything
downstream (placement, the launcher, the simulation) reads only this.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["server", "scheduler", "client", "peer"]
GraphKind = Literal["tree", "gossip"]


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
    """A link: in a tree `source` is the parent of `target`; in a gossip graph `source < target`.

    Attributes:
        attrs: per-edge settings later layers read: `link` (a table), `codec`
            (a string), `weight` (a gossip mixing weight), as the file gave them.
    """

    source: str
    target: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Graph:
    """Nodes in declaration order, their edges, and the kind of graph they form.

    Lookups are indexed once at construction, so graphs of thousands of nodes
    answer `node`, `parent_of` and `neighbours` in constant time.
    """

    nodes: tuple[GraphNode, ...]
    edges: tuple[Edge, ...]
    kind: GraphKind = "tree"
    _by_id: dict[str, GraphNode] = field(init=False, repr=False, compare=False)
    _parent: dict[str, str] = field(init=False, repr=False, compare=False)
    _adjacent: dict[str, list[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_id: dict[str, GraphNode] = {}
        for n in self.nodes:
            by_id.setdefault(n.id, n)
        parent: dict[str, str] = {}
        adjacent: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        for edge in self.edges:
            parent.setdefault(edge.target, edge.source)
            adjacent.setdefault(edge.source, []).append(edge.target)
            adjacent.setdefault(edge.target, []).append(edge.source)
        object.__setattr__(self, "_by_id", by_id)
        object.__setattr__(self, "_parent", parent)
        object.__setattr__(self, "_adjacent", adjacent)

    def of_role(self, role: Role) -> list[GraphNode]:
        return [n for n in self.nodes if n.role == role]

    def count(self, role: Role) -> int:
        """How many nodes have `role`."""
        return sum(1 for n in self.nodes if n.role == role)

    def learners(self) -> list[GraphNode]:
        """The nodes that train on local data: the clients of a tree, the peers of a gossip graph."""
        return self.of_role("peer" if self.kind == "gossip" else "client")

    def node(self, node_id: str) -> GraphNode:
        """The node named `node_id`.

        Raises:
            KeyError: no node has that id.
        """
        return self._by_id[node_id]

    def parent_of(self, node_id: str) -> str | None:
        """The source of the edge into `node_id` (None for a root, and in gossip graphs)."""
        if self.kind == "gossip":
            return None
        return self._parent.get(node_id)

    def children_of(self, node_id: str) -> list[str]:
        """The targets of the edges out of `node_id`, in edge order (trees)."""
        return [e.target for e in self.edges if e.source == node_id]

    def neighbours(self, node_id: str) -> list[str]:
        """Every node sharing an edge with `node_id`, whatever its direction."""
        return list(self._adjacent.get(node_id, []))

    def degree(self, node_id: str) -> int:
        """The number of edges touching `node_id`."""
        return len(self._adjacent.get(node_id, []))

    def root(self) -> str | None:
        """The tree's server (None for gossip graphs or when there is not exactly one)."""
        servers = self.of_role("server")
        return servers[0].id if self.kind == "tree" and len(servers) == 1 else None

    def depth(self) -> int:
        """Edges on the longest root-to-leaf path of a tree (1 for a star; 0 for gossip graphs)."""
        root = self.root()
        if root is None:
            return 0
        levels = self.distances_from(root)
        return max(levels.values())

    def distances_from(self, node_id: str) -> dict[str, int]:
        """Hop counts from `node_id` to every node it reaches, edges taken in either direction."""
        seen = {node_id: 0}
        queue = deque([node_id])
        while queue:
            current = queue.popleft()
            for other in self._adjacent.get(current, []):
                if other not in seen:
                    seen[other] = seen[current] + 1
                    queue.append(other)
        return seen

    def is_connected(self) -> bool:
        """Whether every node reaches every other, edges taken in either direction."""
        return not self.nodes or len(self.distances_from(self.nodes[0].id)) == len(self._by_id)
