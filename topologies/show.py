"""`fedactors topology show FILE`: what graph a topology file declares, in numbers and in a drawing.

Only the `[graph]` table has to be valid: a file whose other tables are wrong
(or describe roles this version does not run yet) can still be shown.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from pydantic import TypeAdapter

from topologies.errors import MixingError, NotDoublyStochasticError
from topologies.graph import Graph, GraphKind, Role
from topologies.graph_specs import GraphSpec, TorusGraphSpec
from topologies.load import TopologyFileError, load_topology
from topologies.mixing import check_doubly_stochastic, spectral_gap

#: Above this many nodes the spectral gap is skipped: the dense eigenvalues of
#: a 1,000 × 1,000 matrix take one to three seconds here, and the cost grows as n³.
MAX_SPECTRAL_NODES = 1000
#: Float sums of a few hundred weights are off by ~1e-15; anything beyond this is the rule's.
STOCHASTIC_TOLERANCE = 1e-9
#: Node names are written on drawings of at most this many nodes.
MAX_LABELLED_NODES = 60
#: More clients than this in one row of a tree and their names are written downwards.
CROWDED_LEAVES = 16
EDGE_COLOUR = "#888888"
Point = tuple[float, float]
#: A wraparound edge of a torus: its ends, and the dashed stub drawn out of each.
Wrap = tuple[str, str, tuple[Point, Point], tuple[Point, Point]]
ROLE_COLOURS: dict[Role, str] = {
    "server": "#d62728",
    "scheduler": "#ff7f0e",
    "client": "#1f77b4",
    "peer": "#2ca02c",
}


@dataclass(frozen=True, slots=True)
class GraphSummary:
    """The numbers `topology show` prints.

    Attributes:
        roles: node count per role present, in the order server, scheduler, client, peer.
        depth: edges on the longest root-to-leaf path (trees), else None.
        mixing: the mixing rule (gossip), else None.
        spectral_gap: `1 − |λ₂(W)|` of the mixing matrix (gossip of at most
            `MAX_SPECTRAL_NODES` nodes), else None.
        doubly_stochastic: whether the mixing matrix is (gossip), else None.
        stochastic_problem: the first row or column that is not (e.g. `column 0 ('hub') sums to 1.75`).
    """

    template: str
    kind: GraphKind
    roles: dict[str, int]
    edges: int
    degree_min: int
    degree_mean: float
    degree_max: int
    depth: int | None
    connected: bool
    mixing: str | None
    spectral_gap: float | None
    doubly_stochastic: bool | None
    stochastic_problem: str | None


def show_topology(path: Path, png: Path | None = None) -> str:
    """Summarize the graph of the topology file at `path` and draw it to `png`.

    Args:
        png: the drawing's path (default: next to the file, `<name>.graph.png`).

    Returns:
        The summary text, ending with the drawing's path.

    Raises:
        TopologyFileError: the file is unreadable, or its `[graph]` table is invalid.
    """
    spec = load_graph_spec(path)
    graph = spec.build()
    summary = summarize(spec, graph)
    png = png if png is not None else path.with_name(f"{path.stem}.graph.png")
    draw_graph(spec, graph, png, title=f"{path.name}: {spec.template}")
    return f"{path}: {spec.template} graph\n{format_summary(summary)}\n  drawing    {png}"


def load_graph_spec(path: Path) -> GraphSpec:
    """The validated `[graph]` table of the file at `path`; problems elsewhere in the file are ignored.

    Raises:
        TopologyFileError: the file cannot be read, is not TOML, or its graph is invalid.
    """
    try:
        return load_topology(path).graph
    except TopologyFileError as exc:
        mine = [p for p in exc.problems if p.field.split(".")[0] in ("file", "toml", "graph")]
        if mine:
            raise TopologyFileError(str(path), mine) from exc
    # Only other tables are wrong, so the graph table validates on its own.
    text = path.read_text(encoding="utf-8")
    return TypeAdapter(GraphSpec).validate_python(tomllib.loads(text)["graph"])


def summarize(spec: GraphSpec, graph: Graph) -> GraphSummary:
    """The numbers of `graph`, built from `spec`."""
    degrees = [graph.degree(n.id) for n in graph.nodes]
    roles = {r: graph.count(r) for r in ("server", "scheduler", "client", "peer") if graph.count(r)}
    gap, stochastic, problem = None, None, None
    mixing = spec.mixing_kind(graph)
    if mixing is not None:
        w = spec.mixing_matrix(graph)
        assert w is not None  # gossip graphs have a mixing rule
        gap = spectral_gap(w) if len(graph.nodes) <= MAX_SPECTRAL_NODES else None
        problem = _stochastic_problem(w, [n.id for n in graph.nodes])
        stochastic = problem is None
    return GraphSummary(
        template=spec.template,
        kind=graph.kind,
        roles=roles,
        edges=len(graph.edges),
        degree_min=min(degrees),
        degree_mean=sum(degrees) / len(degrees),
        degree_max=max(degrees),
        depth=graph.depth() if graph.kind == "tree" else None,
        connected=graph.is_connected(),
        mixing=mixing,
        spectral_gap=gap,
        doubly_stochastic=stochastic,
        stochastic_problem=problem,
    )


def _stochastic_problem(w: np.ndarray, ids: list[str]) -> str | None:
    try:
        check_doubly_stochastic(w, STOCHASTIC_TOLERANCE, ids)
    except NotDoublyStochasticError as exc:
        return f"{exc.axis} {exc.index} ({ids[exc.index]!r}) sums to {exc.total:.4g}"
    except MixingError as exc:
        return str(exc)
    return None


def format_summary(summary: GraphSummary) -> str:
    """The summary as the aligned lines `topology show` prints."""
    total = sum(summary.roles.values())
    roles = ", ".join(f"{count} {role}" for role, count in summary.roles.items())
    lines = [
        f"  kind       {summary.kind}",
        f"  nodes      {total}: {roles}",
        f"  edges      {summary.edges}",
        f"  degree     min {summary.degree_min}, mean {summary.degree_mean:.2f}, max {summary.degree_max}",
    ]
    if summary.depth is not None:
        lines.append(f"  depth      {summary.depth}")
    lines.append(f"  connected  {'yes' if summary.connected else 'no'}")
    if summary.mixing is not None:
        gap = (
            f"{summary.spectral_gap:.4f}"
            if summary.spectral_gap is not None
            else f"skipped (more than {MAX_SPECTRAL_NODES} nodes)"
        )
        stochastic = (
            "doubly stochastic"
            if summary.doubly_stochastic
            else f"not doubly stochastic: {summary.stochastic_problem}"
        )
        lines.append(f"  mixing     {summary.mixing}: spectral gap {gap}; {stochastic}")
    return "\n".join(lines)


# -- drawing ------------------------------------------------------------------


def draw_graph(spec: GraphSpec, graph: Graph, png: Path, title: str) -> Path:
    """Draw `graph` to `png`: trees in layers, a torus as its grid, other gossip graphs in a circle."""
    wraps: list[Wrap] = []
    if graph.kind == "tree":
        positions = _tree_positions(graph)
    elif isinstance(spec, TorusGraphSpec):
        positions, wraps = _grid_positions(graph, spec.rows, spec.cols)
    else:
        positions = _circle_positions(graph)
    figure = Figure(figsize=_figure_size(positions, graph.kind), layout="constrained")
    axes = figure.add_subplot()
    wrapped = {(a, b) for a, b, _, _ in wraps}
    segments = [
        (positions[e.source], positions[e.target]) for e in graph.edges if (e.source, e.target) not in wrapped
    ]
    stubs = [stub for _, _, first, second in wraps for stub in (first, second)]
    axes.add_collection(LineCollection(segments, colors=EDGE_COLOUR, linewidths=0.8, zorder=1))
    axes.add_collection(
        LineCollection(stubs, colors=EDGE_COLOUR, linewidths=0.8, linestyles="dashed", zorder=1)
    )
    _draw_nodes(axes, graph, positions)
    axes.set_title(title)
    axes.set_aspect("equal" if graph.kind == "gossip" else "auto")
    axes.axis("off")
    png.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png, dpi=120)
    return png


def _draw_nodes(axes: Axes, graph: Graph, positions: dict[str, Point]) -> None:
    size = max(8.0, 200.0 / max(1.0, len(graph.nodes) ** 0.5))
    for role, colour in ROLE_COLOURS.items():
        nodes = graph.of_role(role)
        if nodes:
            xs, ys = zip(*(positions[n.id] for n in nodes), strict=True)
            axes.scatter(xs, ys, s=size, c=colour, label=f"{role} ({len(nodes)})", zorder=2)
    if len(graph.nodes) <= MAX_LABELLED_NODES:
        crowded = graph.kind == "tree" and graph.count("client") > CROWDED_LEAVES
        for node in graph.nodes:
            below = crowded and node.role == "client"  # a row of leaves: names run downwards
            axes.annotate(
                node.id,
                positions[node.id],
                fontsize=6,
                xytext=(0, -6 if below else 5),
                textcoords="offset points",
                ha="center",
                va="top" if below else "bottom",
                rotation=90 if below else 0,
            )
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)


def _figure_size(positions: dict[str, Point], kind: GraphKind) -> tuple[float, float]:
    """Inches that give nodes room: half an inch per unit of layout, within a screen-sized box."""
    xs = [x for x, _ in positions.values()]
    ys = [y for _, y in positions.values()]
    width = min(24.0, max(5.0, 0.5 * (max(xs) - min(xs)) + 3))
    if kind == "tree":  # layers are one unit apart but need more room than leaves
        return width, min(12.0, max(4.0, 1.6 * (max(ys) - min(ys)) + 3))
    return width, min(18.0, max(4.0, 0.5 * (max(ys) - min(ys)) + 3))


def _tree_positions(graph: Graph) -> dict[str, Point]:
    """Depth downwards; leaves side by side in depth-first order; parents centred over their children."""
    children: dict[str, list[str]] = {n.id: [] for n in graph.nodes}
    for edge in graph.edges:
        children[edge.source].append(edge.target)
    root = graph.root()
    assert root is not None  # validated trees have one server
    order, depth, stack = [], {}, [(root, 0)]
    while stack:
        node, d = stack.pop()
        order.append(node)
        depth[node] = d
        stack.extend((child, d + 1) for child in reversed(children[node]))
    x: dict[str, float] = {}
    for node in order:
        if not children[node]:
            x[node] = float(len(x))
    for node in reversed(order):
        if children[node]:
            x[node] = sum(x[c] for c in children[node]) / len(children[node])
    return {node: (x[node], -float(depth[node])) for node in order}


def _grid_positions(graph: Graph, rows: int, cols: int) -> tuple[dict[str, Point], list[Wrap]]:
    """Peer `r·cols + c` at column c, row r; wraparound edges become dashed stubs off the grid's sides."""
    positions = {n.id: (float(n.index % cols), -float(n.index // cols)) for n in graph.nodes}
    wraps: list[Wrap] = []
    for edge in graph.edges:
        (x1, y1), (x2, y2) = positions[edge.source], positions[edge.target]
        if abs(x1 - x2) + abs(y1 - y2) <= 1:
            continue
        # A wrap joins the first and the last column (or row): stub outwards from each end.
        step = ((0.5 if x1 > x2 else -0.5), 0.0) if y1 == y2 else (0.0, (0.5 if y1 > y2 else -0.5))
        wraps.append(
            (
                edge.source,
                edge.target,
                ((x1, y1), (x1 + step[0], y1 + step[1])),
                ((x2, y2), (x2 - step[0], y2 - step[1])),
            )
        )
    return positions, wraps


def _circle_positions(graph: Graph) -> dict[str, Point]:
    n = len(graph.nodes)
    angles = np.pi / 2 - 2 * np.pi * np.arange(n) / n  # clockwise from twelve o'clock
    scale = max(1.0, n / 8)
    return {
        node.id: (float(scale * np.cos(a)), float(scale * np.sin(a)))
        for node, a in zip(graph.nodes, angles, strict=True)
    }
