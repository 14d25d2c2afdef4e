"""Placement: which node process hosts which actors, and which host runs each process.

The launcher and every node process compute the same plan from the same
file, so a node needs only its id to know what to build. `fedactors launch`
resolves hosts and pins once and writes the result into the run's topology
(`placement.nodes`), so the nodes never need the hosts file.

Rules, in order:

1. the tree's server (a gossip graph's monitor) goes to `node-0`, the first
   process of its host (the first host unless pinned); a server shares that
   process with learners only when there is no other process;
2. pinned learners (clients, or gossip peers) go to their host's processes,
   least loaded first; a `group:<scheduler>` pin takes the scheduler's whole
   subtree;
3. the other learners are spread evenly over the worker processes, in
   contiguous blocks, so a hierarchy's groups stay together;
4. each scheduler goes to the process holding most of its children (deepest
   schedulers first), within its pinned host if it has one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from actors.configs.peers import MONITOR
from topologies.errors import TopologyError
from topologies.graph import Graph
from topologies.spec import RunSpec

GROUP_PREFIX = "group:"


class PlacementError(TopologyError):
    """A placement cannot be honoured: an explicit map or a pin that does not fit the graph.

    Attributes:
        field: the setting at fault (`placement.nodes`, `placement.pins.<key>`).
        reason: what is wrong with it.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.reason = message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One node process, the actors it hosts (parents before children), and its host."""

    node_id: str
    actors: tuple[str, ...]
    host: str = "localhost"


@dataclass(frozen=True, slots=True)
class HostSlots:
    """A host and how many node processes it runs."""

    name: str
    processes: int


def plan_processes(spec: RunSpec, graph: Graph) -> list[NodePlan]:
    """The run's node processes, `node-0` (the server's) first.

    `placement.nodes` (written by `fedactors launch`) is taken as it is;
    otherwise `placement.processes` processes on this machine, packed by the
    module's rules (1 puts every actor in one process).

    Raises:
        PlacementError: `placement.nodes` misses an actor, names an unknown one, or places one twice.
    """
    if spec.placement.nodes is not None:
        return _explicit(spec.placement.nodes, spec.placement.hosts or {}, graph)
    return plan_hosts(graph, [HostSlots("localhost", spec.placement.processes)])


def plan_hosts(
    graph: Graph, hosts: Sequence[HostSlots], pins: Mapping[str, str] | None = None
) -> list[NodePlan]:
    """Pack the graph's actors into the hosts' processes (see the module docstring).

    Raises:
        PlacementError: a pin names an unknown actor or group, or an unknown host.
    """
    pinned = resolve_pins(graph, pins or {}, [h.name for h in hosts])
    slots = _processes(graph, hosts, pinned)
    load: dict[int, list[str]] = {i: [] for i in range(len(slots))}
    root = graph.root()
    if root is not None:
        load[0].append(root)
    if graph.kind == "gossip":
        load[0].append(MONITOR)  # it watches every peer and is nobody's neighbour
    workers = list(range(1 if root is not None else 0, len(slots))) or [0]
    learners = [n.id for n in graph.learners()]
    _place_pinned(learners, pinned, slots, workers, load)
    _spread(learners, pinned, workers, load)
    _place_schedulers(graph, pinned, slots, load)
    return _number(graph, slots, load)


def resolve_pins(graph: Graph, pins: Mapping[str, str], hosts: Sequence[str]) -> dict[str, str]:
    """Actor -> host for every pinned actor; a group pin covers the scheduler's subtree.

    Raises:
        PlacementError: a pin names an actor or group the graph lacks, or a host not in `hosts`.
    """
    pinned: dict[str, str] = {}
    for key, host in pins.items():
        field = f"placement.pins.{key}"
        if host not in hosts:
            raise PlacementError(
                field, f"names host {host!r}, which is not declared (hosts: {', '.join(hosts)})"
            )
        for actor in _pin_targets(graph, key, field):
            pinned.setdefault(actor, host)  # an actor's own pin, written first or not, wins below
    for key, host in pins.items():
        if not key.startswith(GROUP_PREFIX):
            pinned[key] = host
    return pinned


def _pin_targets(graph: Graph, key: str, field: str) -> list[str]:
    actor = key.removeprefix(GROUP_PREFIX)
    try:
        node = graph.node(actor)
    except KeyError:
        raise PlacementError(field, f"pins {actor!r}, which is not an actor of the graph") from None
    if not key.startswith(GROUP_PREFIX):
        return [actor]
    if node.role != "scheduler":
        raise PlacementError(field, f"a group pin names a scheduler; {actor!r} is a {node.role}")
    subtree, frontier = [actor], [actor]
    while frontier:
        frontier = [c for parent in frontier for c in graph.children_of(parent)]
        subtree += frontier
    return subtree


def _processes(graph: Graph, hosts: Sequence[HostSlots], pinned: Mapping[str, str]) -> list[str]:
    """Each process's host, the root's host first."""
    root = graph.root()
    first = pinned.get(root, hosts[0].name) if root is not None else hosts[0].name
    ordered = sorted(hosts, key=lambda h: h.name != first)
    return [h.name for h in ordered for _ in range(h.processes)]


def _place_pinned(
    learners: list[str],
    pinned: Mapping[str, str],
    slots: list[str],
    workers: list[int],
    load: dict[int, list[str]],
) -> None:
    for actor in learners:
        if actor in pinned:
            own = [i for i in workers if slots[i] == pinned[actor]] or [slots.index(pinned[actor])]
            load[min(own, key=lambda i: len(load[i]))].append(actor)


def _spread(
    learners: list[str], pinned: Mapping[str, str], workers: list[int], load: dict[int, list[str]]
) -> None:
    """Fill each worker up to its even share of learners, in order; what is left (when pins
    overfilled some) goes to the worker with the fewest learners."""
    free = [a for a in learners if a not in pinned]
    total = len(learners)
    share = {w: total // len(workers) + (k < total % len(workers)) for k, w in enumerate(workers)}
    count = {w: sum(1 for a in load[w] if a in pinned) for w in workers}
    queue = iter(free)
    for worker in workers:
        for _, actor in zip(range(max(share[worker] - count[worker], 0)), queue, strict=False):
            load[worker].append(actor)
            count[worker] += 1
    for actor in queue:
        worker = min(workers, key=count.__getitem__)
        load[worker].append(actor)
        count[worker] += 1


def _place_schedulers(
    graph: Graph, pinned: Mapping[str, str], slots: list[str], load: dict[int, list[str]]
) -> None:
    where = {actor: i for i, actors in load.items() for actor in actors}
    root = graph.root()
    depth = graph.distances_from(root) if root is not None else {}
    schedulers = sorted(graph.of_role("scheduler"), key=lambda n: -depth.get(n.id, 0))
    for node in schedulers:
        votes = Counter(where[c] for c in graph.children_of(node.id) if c in where)
        allowed = [i for i in range(len(slots)) if node.id not in pinned or slots[i] == pinned[node.id]]
        best = max(allowed, key=lambda i: (votes[i], -i))
        load[best].append(node.id)
        where[node.id] = best


def _number(graph: Graph, slots: list[str], load: dict[int, list[str]]) -> list[NodePlan]:
    """Drop empty processes, number the rest `node-0..`, order each one's actors parents first."""
    root = graph.root()
    depth = graph.distances_from(root) if root is not None else {}
    order = {n.id: (depth.get(n.id, 0), k) for k, n in enumerate(graph.nodes)}
    order[MONITOR] = (-1, 0)
    used = [i for i in range(len(slots)) if load[i]]
    return [
        NodePlan(f"node-{k}", tuple(sorted(load[i], key=order.__getitem__)), slots[i])
        for k, i in enumerate(used)
    ]


def _explicit(nodes: Mapping[str, Sequence[str]], hosts: Mapping[str, str], graph: Graph) -> list[NodePlan]:
    seen: dict[str, str] = {}
    for node_id, actors in nodes.items():
        for actor in actors:
            if actor in seen:
                raise PlacementError(
                    "placement.nodes", f"actor {actor!r} is placed on both {seen[actor]!r} and {node_id!r}"
                )
            try:
                graph.node(actor) if actor != MONITOR or graph.kind != "gossip" else None
            except KeyError:
                raise PlacementError(
                    "placement.nodes", f"{node_id!r} names {actor!r}, which is not an actor of the graph"
                ) from None
            seen[actor] = node_id
    expected = [n.id for n in graph.nodes] + ([MONITOR] if graph.kind == "gossip" else [])
    missing = [a for a in expected if a not in seen]
    if missing:
        raise PlacementError("placement.nodes", f"actors {missing[:5]} are placed on no node")
    return [
        NodePlan(node_id, tuple(actors), hosts.get(node_id, "localhost")) for node_id, actors in nodes.items()
    ]
