"""One client floods the server with updates; memory stays bounded and the others' updates go in.

Three real processes over ZeroMQ (see `benchmarks/flood.py`, which prints the
figures): a FedAsync server, three honest clients, and a rogue that joins and
then sends a 64 KB update for a task it was never given as fast as the
server's socket takes it. What the server can be made to hold is its receive
high-water mark plus its mailbox, both counted in messages; the assertion is
on its peak RSS against that bound, never on time.
"""

from __future__ import annotations

import pytest

from actors.node import NodeConfig
from actors.transport.zmq_config import RECV_HWM
from benchmarks.flood import FloodPlan, honest_names, run_flood

SLACK_MB = 64.0  # allocator and interpreter overhead beside the queued messages themselves


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_flooding_client_cannot_grow_the_servers_memory_or_keep_honest_updates_out() -> None:
    plan = FloodPlan(
        numel=16_384,
        honest_clients=3,
        max_versions=60,
        flood_before=8_000,
        recv_hwm=RECV_HWM,
        mailbox_capacity=NodeConfig().mailbox_capacity,
    )

    result = run_flood(plan, with_rogue=True)

    server = result.server
    flood_mb = result.rogue_sent * plan.update_mb
    assert server["version"] == plan.max_versions
    assert set(server["applied"]) == set(honest_names(plan))  # the rogue's updates: none applied
    assert all(count >= 5 for count in server["applied"].values()), server["applied"]
    assert server["rejected"]["unknown_task"] >= plan.flood_before // 2
    assert flood_mb >= 3 * plan.queued_mb()  # the flood is far larger than what may be queued...
    assert result.growth_mb <= plan.queued_mb() + SLACK_MB, server  # ...yet memory grows by the bound at most
    assert result.rogue_waits > 0  # and the rogue was made to wait: the server pushed back
