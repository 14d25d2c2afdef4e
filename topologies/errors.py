"""Errors raised while loading and validating a topology file."""

from __future__ import annotations


class TopologyError(Exception):
    """Base class: the topology declaration is wrong; nothing was started."""


class ImportPathError(TopologyError):
    """A `module:attr` path names nothing importable.

    Attributes:
        path: the path as written in the file.
        reason: what went wrong (missing module, missing attribute, bad form).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"import path {path!r}: {reason}")


# -- graphs -------------------------------------------------------------------


class GraphError(TopologyError):
    """The declared graph cannot be run: its message names the node or edge at fault.

    Attributes:
        node: the node at fault (or the first of them), if one is.
    """

    def __init__(self, message: str, node: str | None = None) -> None:
        self.node = node
        super().__init__(message)


class DuplicateNodeError(GraphError):
    """Two nodes share an id."""

    def __init__(self, node: str) -> None:
        super().__init__(f"node id {node!r} is declared twice; node ids must be unique", node)


class UnknownNodeError(GraphError):
    """An edge names a node (or a group) that no node declares.

    Attributes:
        edge: the edge as `'source'→'target'`, or where it was declared.
    """

    def __init__(self, node: str, edge: str, what: str = "node") -> None:
        self.edge = edge
        super().__init__(f"edge {edge} names {what} {node!r}, which is not declared", node)


class DuplicateEdgeError(GraphError):
    """The same edge (for gossip graphs: the same pair, in either direction) is declared twice."""

    def __init__(self, edge: str, node: str) -> None:
        self.edge = edge
        super().__init__(f"edge {edge} is declared twice", node)


class SelfLoopError(GraphError):
    """An edge goes from a node to itself."""

    def __init__(self, node: str) -> None:
        super().__init__(f"edge {node!r}→{node!r} connects node {node!r} to itself", node)


class RoleError(GraphError):
    """A node's role does not belong in this kind of graph (peers among servers and clients)."""


class RoleEdgeError(RoleError):
    """An edge wires a role to a role it cannot talk to (client→client, peer–server, server as a child).

    Attributes:
        edge: the edge as `'source'→'target'`.
    """

    def __init__(self, edge: str, node: str, reason: str) -> None:
        self.edge = edge
        super().__init__(f"edge {edge}: {reason}", node)


class NotATreeError(GraphError):
    """A server/scheduler/client graph is not a tree rooted at one server with clients at the leaves."""


class RootError(NotATreeError):
    """The tree has no server, or more than one."""


class TwoParentsError(NotATreeError):
    """A node has more than one parent."""


class CycleError(NotATreeError):
    """Parent links go round in a cycle.

    Attributes:
        cycle: the node ids of the cycle, in parent→child order.
    """

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        path = " → ".join(repr(n) for n in [*cycle, cycle[0]])
        super().__init__(f"nodes {path} form a cycle; a tree has none", cycle[0])


class UnreachableNodeError(NotATreeError):
    """A node has no path from the root server."""

    def __init__(self, node: str, root: str) -> None:
        self.root = root
        super().__init__(f"node {node!r} has no path to root {root!r}: it has no parent", node)


class LeafError(NotATreeError):
    """A server or scheduler has no children (only clients may be leaves)."""


class DisconnectedGraphError(GraphError):
    """A gossip graph falls apart into several pieces.

    Attributes:
        components: how many connected pieces it has.
    """

    def __init__(self, node: str, reference: str, components: int) -> None:
        self.components = components
        super().__init__(
            f"gossip graph is not connected: node {node!r} has no path to {reference!r} "
            f"({components} separate components); peers can only average with peers they reach",
            node,
        )


class GraphSamplingError(GraphError):
    """A random template found no connected graph within its attempts.

    Attributes:
        attempts: how many graphs were drawn.
    """

    def __init__(self, template: str, attempts: int, hint: str) -> None:
        self.attempts = attempts
        super().__init__(f"{template}: no connected graph in {attempts} draws; {hint}")


class EdgeListError(TopologyError):
    """An `edges_csv` file cannot be read or has a bad row.

    Attributes:
        path: the file as written in the topology.
        line: the 1-based line at fault (None for the whole file).
        reason: what is wrong.
    """

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"edges_csv {where}: {reason}")


# -- mixing weights -----------------------------------------------------------


class MixingError(TopologyError):
    """Gossip mixing weights are missing or invalid."""


class NotDoublyStochasticError(MixingError):
    """A mixing matrix has a row or column that does not sum to 1.

    Attributes:
        axis: `"row"` or `"column"`.
        index: the offending row or column.
        total: what it sums to (or the negative entry).
    """

    def __init__(self, axis: str, index: int, total: float, label: str, tol: float) -> None:
        self.axis = axis
        self.index = index
        self.total = total
        super().__init__(
            f"mixing matrix is not doubly stochastic: {axis} {index}{label} sums to {total:.6g}, "
            f"expected 1 (tolerance {tol:g})"
        )
