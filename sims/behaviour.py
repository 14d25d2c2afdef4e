"""Behaviour models: compute time, availability and links, from `[behaviour]`.

Each client gets its own generator and each link its own, all derived from the
run's seed, so draws do not depend on how many other clients there are or in
which order they ask.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from actors.client.behaviour import WorkPlan
from sims.errors import SimError
from topologies.graph import Graph
from topologies.specs.behaviour import (
    AvailabilitySpec,
    ComputeSpec,
    ConstantTime,
    LatencyConstant,
    LatencySpec,
    LatencyUniform,
    LinkSpec,
    LinksSpec,
    LogNormalTime,
    NormalTime,
    ParetoTime,
    PerSampleTime,
    TimeSpec,
    TraceTime,
    UniformTime,
)

Draw = Callable[[np.random.Generator, int, int], float]  # (rng, samples, epochs) -> seconds


def time_sampler(spec: TimeSpec, client: str, trace: dict[str, tuple[str, float]] | None = None) -> Draw:
    """A function drawing one task's compute time for `client`."""
    match spec:
        case ConstantTime(seconds=s):
            return lambda rng, n, e: s
        case PerSampleTime(seconds_per_sample=s):
            return lambda rng, n, e: s * n * e
        case UniformTime(low_s=lo, high_s=hi):
            return lambda rng, n, e: float(rng.uniform(lo, hi))
        case NormalTime(mean_s=m, std_s=sd):
            return lambda rng, n, e: max(0.0, float(rng.normal(m, sd)))
        case LogNormalTime(median_s=m, sigma=sg):
            return lambda rng, n, e: m * math.exp(sg * float(rng.standard_normal()))
        case ParetoTime(scale_s=sc, shape=sh):
            return lambda rng, n, e: sc * (1.0 + float(rng.pareto(sh)))
        case TraceTime(base_s=base):
            column, value = (trace or {}).get(client, ("factor", 1.0))
            seconds = value if column == "duration_s" else base * value
            return lambda rng, n, e: seconds
    raise AssertionError(f"unhandled time spec {spec!r}")


def read_trace(path: Path) -> dict[str, tuple[str, float]]:
    """client -> ("duration_s" | "factor", value) from a trace CSV.

    Raises:
        SimError: the file is missing, lacks a `client` column and one of
            `duration_s`/`factor`, or holds a value that is not a number.
    """
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise SimError(f"compute trace {path}: cannot read it ({exc.strerror})") from exc
    columns = set(rows[0]) if rows else set()
    column = "duration_s" if "duration_s" in columns else "factor" if "factor" in columns else None
    if "client" not in columns or column is None:
        raise SimError(
            f"compute trace {path}: expected columns client and duration_s or factor, got {sorted(columns)}"
        )
    try:
        return {row["client"]: (column, float(row[column])) for row in rows}
    except ValueError as exc:
        raise SimError(f"compute trace {path}: {exc}") from exc


def _fitting(deadline_s: float, units: int, seconds: float) -> int:
    """⌊deadline · units / seconds⌋: units of work (of `units` taking `seconds`) that fit;
    a hair of tolerance so that an exact fit written in decimals is not one short."""
    return math.floor(deadline_s * units / seconds + 1e-9)


def slow_clients(clients: list[str], fraction: float, rng: np.random.Generator) -> set[str]:
    """Exactly round(fraction · n) clients, chosen by `rng`."""
    count = round(fraction * len(clients))
    return {clients[i] for i in rng.choice(len(clients), size=count, replace=False)}


@dataclass(frozen=True, slots=True)
class LocalWork:
    """A client's configured work, in SGD steps: what partial work is counted in.

    Attributes:
        batch_size: samples per step (steps per epoch = ⌈samples / batch_size⌉).
        steps: the configured steps per task, when the client counts steps, not epochs.
    """

    batch_size: int
    steps: int | None = None

    def total_steps(self, num_samples: int, epochs: int, asked_epochs: int | None) -> int:
        if asked_epochs is None and self.steps is not None:
            return self.steps
        return epochs * math.ceil(num_samples / self.batch_size)


class SimClientBehaviour:
    """A client's `ClientBehaviour` from the compute and availability models.

    Args:
        client: its name (for crashes and traces).
        draw: its compute-time sampler (None: real training time).
        factor: multiplies every drawn time (slow clients).
        configured_epochs: the client's epochs when a task does not say.
        availability: drops, on/off periods, crashes.
        rng: its own generator.
        compute: the per-task straggler draw (`straggler_probability`, `straggler_work`).
        work: its work in steps (None: partial work counts whole epochs only).
    """

    def __init__(
        self,
        client: str,
        draw: Draw | None,
        factor: float,
        configured_epochs: int,
        availability: AvailabilitySpec,
        rng: np.random.Generator,
        compute: ComputeSpec | None = None,
        work: LocalWork | None = None,
    ) -> None:
        self.client = client
        self.draw = draw
        self.factor = factor
        self.configured_epochs = configured_epochs
        self.availability = availability
        self.rng = rng
        self.compute = compute or ComputeSpec()
        self.work = work
        self._crashes = [c for c in availability.crashes if c.client == client]
        self._switches: list[float] = []  # on/off: times at which the state flips, starting online

    def plan(self, now: float, num_samples: int, epochs: int | None, deadline_s: float | None) -> WorkPlan:
        absent = self._absence(now)
        if absent:
            return WorkPlan(drop=True, reason=absent)
        if self.availability.drop_probability and self.rng.random() < self.availability.drop_probability:
            return WorkPlan(drop=True, reason="failed")
        if self.draw is None:
            return WorkPlan()
        wanted = epochs or self.configured_epochs
        seconds = self.draw(self.rng, num_samples, wanted) * self.factor
        # Drawn only when asked for, so runs without stragglers keep their draws.
        straggler = bool(self.compute.straggler_probability) and (
            self.rng.random() < self.compute.straggler_probability
        )
        if straggler:
            seconds *= self._slowdown(wanted)
        if deadline_s is not None and seconds > deadline_s:
            partial = self._partial(seconds, deadline_s, num_samples, wanted, epochs)
            return replace(partial, straggler=straggler)
        return WorkPlan(compute_s=seconds, epochs=epochs, straggler=straggler)

    def _slowdown(self, wanted: int) -> float:
        """How much longer a straggler's task takes (FedProx: E / x, x uniform in 1..E)."""
        if self.compute.straggler_work == "uniform":
            return wanted / int(self.rng.integers(1, wanted + 1))
        return self.compute.slow_factor

    def _partial(
        self, seconds: float, deadline_s: float, num_samples: int, wanted: int, epochs: int | None
    ) -> WorkPlan:
        """The work that fits `deadline_s`, at least one step (one epoch when steps are unknown)."""
        if self.work is None:
            if wanted == 1:
                return WorkPlan(compute_s=seconds, epochs=epochs)
            fit = max(1, min(wanted, _fitting(deadline_s, wanted, seconds)))
            return WorkPlan(compute_s=seconds * fit / wanted, epochs=fit)
        total = self.work.total_steps(num_samples, wanted, epochs)
        fit = max(1, min(total, _fitting(deadline_s, total, seconds)))
        compute_s = seconds * fit / total
        per_epoch = total // wanted if epochs is not None or self.work.steps is None else 0
        if per_epoch and fit % per_epoch == 0:
            return WorkPlan(compute_s=compute_s, epochs=fit // per_epoch)
        return WorkPlan(compute_s=compute_s, steps=fit)

    def _absence(self, now: float) -> str:
        for crash in self._crashes:
            back = math.inf if crash.rejoin_after_s is None else crash.at_s + crash.rejoin_after_s
            if crash.at_s <= now < back:
                return "crashed"
        on_off = self.availability.on_off
        if on_off is not None:
            while not self._switches or self._switches[-1] <= now:
                mean = on_off.mean_on_s if len(self._switches) % 2 == 0 else on_off.mean_off_s
                last = self._switches[-1] if self._switches else 0.0
                self._switches.append(last + float(self.rng.exponential(mean)))
            flips = sum(1 for t in self._switches if t <= now)
            if flips % 2 == 1:
                return "offline"
        return ""


class SimLinks:
    """A `LinkModel` over the graph: uplink for child → parent, downlink for parent → child.

    In a gossip graph, messages between neighbours take the uplink model in
    both directions (a peer's link to the network).

    Each directed link is a FIFO queue: a message starts when the link is free,
    takes bytes / bandwidth, then latency; it never overtakes an earlier one.
    Messages between actors that are not parent and child (e.g. to the
    recorder) are instant.
    """

    def __init__(self, graph: Graph, links: LinksSpec, seed: int) -> None:
        tree = graph.kind == "tree"
        self._parent = {e.target: e.source for e in graph.edges} if tree else {}
        self._gossip = set() if tree else {frozenset((e.source, e.target)) for e in graph.edges}
        self._spec = links
        self._seed = seed
        self._index = {n.id: i for i, n in enumerate(graph.nodes)}
        self._free_at: dict[tuple[str, str], float] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._rngs: dict[tuple[str, str], np.random.Generator] = {}

    def arrival(self, sender: str, receiver: str, nbytes: int, now: float) -> float:
        if self._parent.get(sender) == receiver or frozenset((sender, receiver)) in self._gossip:
            spec = self._spec.uplink
        elif self._parent.get(receiver) == sender:
            spec = self._spec.downlink
        else:
            return now
        link = (sender, receiver)
        start = max(now, self._free_at.get(link, 0.0))
        done = start + (nbytes / spec.bandwidth_bytes_per_s if spec.bandwidth_bytes_per_s else 0.0)
        self._free_at[link] = done
        arrival = max(done + self._latency(spec, link), self._last.get(link, 0.0))
        self._last[link] = arrival
        return arrival

    def _latency(self, spec: LinkSpec, link: tuple[str, str]) -> float:
        latency: LatencySpec = spec.latency
        if isinstance(latency, LatencyConstant):
            return latency.seconds
        rng = self._rngs.get(link)
        if rng is None:
            rng = np.random.default_rng([self._seed, 3, self._index[link[0]], self._index[link[1]]])
            self._rngs[link] = rng
        if isinstance(latency, LatencyUniform):
            return float(rng.uniform(latency.low_s, latency.high_s))
        return latency.median_s * math.exp(latency.sigma * float(rng.standard_normal()))


def build_behaviours(
    clients: list[str],
    compute: ComputeSpec,
    availability: AvailabilitySpec,
    epochs: int,
    seed: int,
    work: LocalWork | None = None,
) -> dict[str, SimClientBehaviour]:
    """One behaviour per client, in the order given (their index seeds their generator);
    `work` lets partial work count steps (None: whole epochs only)."""
    trace = read_trace(compute.time.path) if isinstance(compute.time, TraceTime) else None
    slow = slow_clients(clients, compute.slow_fraction, np.random.default_rng([seed, 4]))
    return {
        client: SimClientBehaviour(
            client,
            time_sampler(compute.time, client, trace) if compute.time is not None else None,
            compute.slow_factor if client in slow else 1.0,
            epochs,
            availability,
            np.random.default_rng([seed, 2, index]),
            compute,
            work,
        )
        for index, client in enumerate(clients)
    }
