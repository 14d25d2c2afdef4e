"""Graph templates: one short function per template, found by name in `BUILDERS`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from topologies.graph import Edge, Graph, GraphNode

SERVER_ID = "server"


def client_ids(count: int) -> list[str]:
    """`client-000`, `client-001`, … (zero-padded so that names sort in index order)."""
    width = max(3, len(str(count - 1)))
    return [f"client-{i:0{width}d}" for i in range(count)]


def star(spec: Any) -> Graph:
    """One server, `spec.clients` clients, an edge from the server to each."""
    clients = client_ids(spec.clients)
    nodes = (GraphNode(SERVER_ID, "server", 0), *(GraphNode(c, "client", i) for i, c in enumerate(clients)))
    return Graph(nodes, tuple(Edge(SERVER_ID, c) for c in clients))


BUILDERS: dict[str, Callable[[Any], Graph]] = {"star": star}
