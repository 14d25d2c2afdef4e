"""Declarations of the `[compression]` table: which links compress their weights, and how.

    [compression]
    client = { uplink = { kind = "topk", fraction = 0.01 }, downlink = { kind = "fp16" } }
    scheduler = { uplink = { kind = "qsgd", bits = 8 } }
    edges = [{ source = "server", target = "client-003", uplink = { kind = "qsgd", bits = 4 } }]
    peer = { kind = "qsgd", bits = 8 }          # gossip graphs: what a peer sends each neighbour

`uplink` is what a child sends its parent (its `Update`), `downlink` what the
parent sends it (its `Task`). A role's entry covers every node of that role;
an edge's (parent `source`, child `target`, as in `[graph]`) overrides it. In
a gossip graph `peer` covers every message a peer sends a neighbour (its model),
and an edge of the graph (either order) overrides it: `downlink` for what
`source` sends `target`, `uplink` for the way back.
The schemes live in `actors.compression`; see docs/topology.md.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from actors.compression import CodecSpec, SchemeConfig
from topologies.graph import Graph


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinkCodecsSpec(_Spec):
    """The schemes of one child's two directions (None: that direction is sent as it is)."""

    uplink: CodecSpec | None = None
    downlink: CodecSpec | None = None


class EdgeCodecSpec(LinkCodecsSpec):
    """One parent → child edge's schemes, overriding its child's role."""

    source: str
    target: str


class CompressionSpec(_Spec):
    """Per role (`client`, `scheduler`; gossip graphs: `peer`) and per edge."""

    client: LinkCodecsSpec = Field(default_factory=LinkCodecsSpec)
    scheduler: LinkCodecsSpec = Field(default_factory=LinkCodecsSpec)
    peer: CodecSpec | None = None
    edges: tuple[EdgeCodecSpec, ...] = ()

    def table(self, graph: Graph) -> dict[tuple[str, str], SchemeConfig]:
        """(sender, receiver) -> scheme, for every compressed direction of the graph's edges.

        Raises:
            ValueError: an entry names an edge the graph lacks, or a delta scheme on a
                downlink (a `Task` carries full weights).
        """
        if graph.kind == "gossip":
            both = LinkCodecsSpec(uplink=self.peer, downlink=self.peer)
            chosen = {(e.source, e.target): both for e in graph.edges}
        else:
            chosen = {(e.source, e.target): self._role(graph, e.target) for e in graph.edges}
        for index, edge in enumerate(self.edges):
            if (edge.source, edge.target) not in chosen and (edge.target, edge.source) in chosen:
                chosen.pop((edge.target, edge.source))  # a gossip edge, named the other way round
            elif (edge.source, edge.target) not in chosen:
                what = "an edge" if graph.kind == "gossip" else "a parent -> child edge"
                raise ValueError(
                    f"compression.edges[{index}]: {edge.source} -> {edge.target} is not {what} of the graph"
                )
            chosen[(edge.source, edge.target)] = edge
        table: dict[tuple[str, str], SchemeConfig] = {}
        for (parent, child), codecs in chosen.items():
            if codecs.uplink is not None:
                table[(child, parent)] = codecs.uplink
            if codecs.downlink is not None:
                table[(parent, child)] = codecs.downlink
        return table

    def check(self, graph: Graph, deltas_up: bool) -> None:
        """Refuse what cannot run: edges not in the graph, top-k on full weights.

        Raises:
            ValueError: naming the field at fault.
        """
        self._check_roles(graph)
        gossip = graph.kind == "gossip"
        for where, codecs in (("client", self.client), ("scheduler", self.scheduler), *self._edge_fields()):
            for direction, codec in (("uplink", codecs.uplink), ("downlink", codecs.downlink)):
                if gossip and codec is not None and codec.needs_delta:
                    raise ValueError(
                        f"compression.{where}.{direction}.kind: {codec.kind} needs deltas, and gossip peers "
                        "exchange full models: use fp16 or qsgd"
                    )
            if codecs.downlink is not None and codecs.downlink.needs_delta:
                raise ValueError(
                    f"compression.{where}.downlink.kind: {codecs.downlink.kind} needs a delta, and a task "
                    "carries the full model: use fp16 or qsgd downlink"
                )
            if codecs.uplink is not None and codecs.uplink.needs_delta and not deltas_up:
                raise ValueError(
                    f"compression.{where}.uplink.kind: {codecs.uplink.kind} needs deltas, and this server's "
                    "clients send full weights (FedAsync): use fp16 or qsgd, or FedBuff / FedAvg"
                )
        self.table(graph)

    def _check_roles(self, graph: Graph) -> None:
        """`peer` on gossip graphs only, `client` and `scheduler` on trees only."""
        if graph.kind == "gossip":
            for role, codecs in (("client", self.client), ("scheduler", self.scheduler)):
                if codecs.uplink or codecs.downlink:
                    raise ValueError(
                        f"compression.{role}: a gossip graph has no {role}s: use compression.peer"
                    )
            if self.peer is not None and self.peer.needs_delta:
                raise ValueError(
                    f"compression.peer.kind: {self.peer.kind} needs deltas, and gossip peers exchange "
                    "full models: use fp16 or qsgd"
                )
        elif self.peer is not None:
            raise ValueError("compression.peer applies to gossip graphs: this graph is a tree")

    def _edge_fields(self) -> list[tuple[str, LinkCodecsSpec]]:
        return [(f"edges[{i}]", e) for i, e in enumerate(self.edges)]

    def _role(self, graph: Graph, child: str) -> LinkCodecsSpec:
        return self.scheduler if graph.node(child).role == "scheduler" else self.client
