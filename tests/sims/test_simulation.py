"""Runs on virtual time: reproducible to the byte, and exact under constant models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from actors import Actor, Node, NodeConfig, handler
from actors.clock import LoopClock
from actors.codec import encode, wire_size
from actors.messages import Envelope
from sims.behaviour import SimLinks
from sims.results import read_events
from sims.simulate import simulate
from sims.virtual_time import run_virtual
from tests.actors.messages_for_tests import Blob
from topologies.builders import star
from topologies.load import parse_topology
from topologies.specs.behaviour import LinksSpec

BASE = """
name = "sim-test"
seed = {seed}
mode = "sim"
[graph]
template = "star"
clients = {clients}
[client]
epochs = 1
batch_size = 16
lr = 0.05
[model]
kind = "logreg"
[data]
kind = "digits"
partition = {{ kind = "iid" }}
"""


def run(tmp_path: Path, text: str, name: str = "run") -> list[dict[str, object]]:
    spec = parse_topology(text)
    out = tmp_path / name
    out.mkdir()
    simulate(spec, out)
    return read_events(out / "events.jsonl")


def without_wall_time(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        del record["t"]
        lines.append(json.dumps(record))
    return lines


FEDASYNC_STRAGGLERS = (
    BASE
    + """
[server]
algorithm = "fedasync"
alpha = 0.5
staleness = {{ kind = "polynomial", a = 0.5 }}
task_timeout_s = 30
eval_every = 5
[behaviour.compute]
time = {{ kind = "lognormal", median_s = 2.0, sigma = 1.0 }}
slow_fraction = 0.2
slow_factor = 10
[behaviour.availability]
drop_probability = 0.2
[behaviour.links.uplink]
latency = {{ kind = "uniform", low_s = 0.01, high_s = 0.5 }}
bandwidth_bytes_per_s = 1e5
[stop]
max_versions = 60
"""
)


def test_two_sim_runs_with_the_same_seed_write_the_same_events_byte_for_byte(tmp_path: Path) -> None:
    for name in ("a", "b"):
        run(tmp_path, FEDASYNC_STRAGGLERS.format(seed=3, clients=10), name)

    first = without_wall_time(tmp_path / "a" / "events.jsonl")
    second = without_wall_time(tmp_path / "b" / "events.jsonl")

    assert first == second
    assert len(first) > 100
    assert any('"task_dropped"' in line for line in first)  # the models were active
    assert any('"task_expired"' in line for line in first)


def test_a_different_seed_gives_different_events(tmp_path: Path) -> None:
    run(tmp_path, FEDASYNC_STRAGGLERS.format(seed=3, clients=10), "a")
    run(tmp_path, FEDASYNC_STRAGGLERS.format(seed=4, clients=10), "b")

    assert without_wall_time(tmp_path / "a" / "events.jsonl") != without_wall_time(
        tmp_path / "b" / "events.jsonl"
    )


def test_a_fedavg_round_takes_the_slowest_clients_compute_time_plus_its_link_time(tmp_path: Path) -> None:
    trace = tmp_path / "trace.csv"
    trace.write_text("client,duration_s\nclient-000,1.5\nclient-001,4.0\nclient-002,2.5\n")
    text = (
        BASE.format(seed=0, clients=3)
        + f"""
[server]
algorithm = "fedavg"
min_clients = 3
[behaviour.compute]
time = {{ kind = "trace", path = "{trace}" }}
[behaviour.links.downlink]
latency = {{ kind = "constant", seconds = 0.25 }}
[behaviour.links.uplink]
latency = {{ kind = "constant", seconds = 0.5 }}
[stop]
max_rounds = 3
"""
    )

    events = run(tmp_path, text)

    updated = [r["vt"] for r in events if r["event"] == "model_updated"]
    # The joins arrive at 0.5 (uplink latency); then each round takes exactly
    # 0.25 down + 4.0 (the slowest client's compute) + 0.5 up = 4.75.
    assert updated == [0.5 + 4.75, 0.5 + 2 * 4.75, 0.5 + 3 * 4.75]


def test_a_client_on_a_1_mb_per_s_link_sends_a_4_mb_update_in_4_s_of_simulated_time() -> None:
    graph = star(1)
    links = SimLinks(graph, LinksSpec.model_validate({"uplink": {"bandwidth_bytes_per_s": 1e6}}), seed=0)
    update = Blob("update", torch.zeros(1_000_000, dtype=torch.float32))  # 4,000,000 bytes of tensor
    arrivals: list[float] = []
    nodes: list[Node] = []

    class Server(Actor):
        @handler
        async def on_blob(self, msg: Blob, sender: str) -> None:
            arrivals.append(self.clock.now())
            nodes[0].stop()

    class Client(Actor):
        async def on_start(self) -> None:
            await self.send("server", update)

    async def main() -> None:
        node = Node("sim", clock=LoopClock(), config=NodeConfig(compute="inline"), links=links)
        nodes.append(node)
        node.spawn(Server(), "server")
        node.spawn(Client(), "client-000")
        await node.run()

    run_virtual(main())

    header = wire_size(encode(Envelope("client-000", "server", update))) - 4_000_000
    assert arrivals == [pytest.approx((4_000_000 + header) / 1e6, abs=1e-12)]
    assert 4.0 <= arrivals[0] < 4.001


def test_fedasync_staleness_with_one_client_in_three_2_5x_slower_matches_the_hand_computed_sequence(
    tmp_path: Path,
) -> None:
    text = (
        BASE.format(seed=0, clients=3)
        + """
[server]
algorithm = "fedasync"
alpha = 0.5
eval_every = 100
[behaviour.compute]
time = { kind = "constant", seconds = 1.0 }
slow_fraction = 0.34
slow_factor = 2.5
[stop]
max_versions = 9
"""
    )

    events = run(tmp_path, text)

    # Fast clients A, B report at t = 1, 2, 3, 4; the slow one at t = 2.5.
    # t=1: A τ0 → v1, B τ1 → v2 | t=2: A τ1 → v3, B τ1 → v4 | t=2.5: slow (base 0) τ4 → v5
    # t=3: A (base 3) τ2 → v6, B (base 4) τ2 → v7 | t=4: A τ1 → v8, B τ1 → v9
    applied = [(r["vt"], r["staleness"]) for r in events if r["event"] == "update_applied"]
    assert [s for _, s in applied] == [0, 1, 1, 1, 4, 2, 2, 1, 1]
    assert [t for t, _ in applied] == [1.0, 1.0, 2.0, 2.0, 2.5, 3.0, 3.0, 4.0, 4.0]


def test_a_run_whose_clients_all_drop_out_ends_as_stalled_instead_of_hanging(tmp_path: Path) -> None:
    text = (
        BASE.format(seed=0, clients=2)
        + """
[server]
algorithm = "fedasync"
task_timeout_s = 5
[behaviour.availability]
crashes = [{ client = "client-000", at_s = 0 }, { client = "client-001", at_s = 0 }]
[stop]
max_versions = 5
"""
    )
    spec = parse_topology(text)
    (tmp_path / "out").mkdir()
    spec = spec.model_copy(update={"server": spec.server.model_copy(update={"task_timeout_s": None})})

    reason = simulate(spec, tmp_path / "out")

    assert reason == "stalled"


def test_the_virtual_clock_costs_no_wall_time_for_long_waits() -> None:
    async def main() -> float:
        clock = LoopClock()
        started = clock.now()
        await clock.sleep(3 * 24 * 3600)  # virtual: returns at once in wall time
        return clock.now() - started

    assert run_virtual(main()) == 3 * 24 * 3600
