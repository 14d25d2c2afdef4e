"""Build graph specs from `[graph]` TOML text, as a topology file would declare them."""

from __future__ import annotations

import tomllib

from pydantic import TypeAdapter

from topologies.graph import Graph
from topologies.graph_specs import GraphSpec

GRAPH = TypeAdapter(GraphSpec)


def graph_spec(toml: str) -> GraphSpec:
    """The validated spec of a `[graph]` table (the header is added)."""
    return GRAPH.validate_python(tomllib.loads("[graph]\n" + toml)["graph"])


def built(toml: str) -> Graph:
    """The graph a `[graph]` table builds, validated."""
    return graph_spec(toml).build()
