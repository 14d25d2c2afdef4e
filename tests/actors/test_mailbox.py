"""Mailboxes: turns between origins, and a stuck actor that cannot stall its node."""

from __future__ import annotations

import asyncio

import pytest

from actors import Actor, Node, NodeConfig, handler
from actors.errors import RemoteActorError
from actors.mailbox import Mailbox
from actors.messages import Envelope
from actors.transport.local import LocalHub, LocalTransport
from tests.actors.messages_for_tests import Ping, Pong


def envelope(origin: str, n: int) -> Envelope:
    return Envelope("sender", "receiver", Ping(n), origin=origin)


def test_origins_take_turns_and_each_keeps_its_order() -> None:
    mailbox = Mailbox(10)
    for origin, n in [("flood", 1), ("flood", 2), ("flood", 3), ("honest", 4), ("", 5), ("flood", 6)]:
        mailbox.put_nowait(envelope(origin, n))

    taken = [mailbox.get_nowait().body.n for _ in range(6)]  # type: ignore[attr-defined]

    # flood, honest, local, flood, flood, flood: the honest message waits one turn, not three.
    assert taken == [1, 4, 5, 2, 3, 6]
    assert mailbox.taken == 6
    assert mailbox.empty()


def test_messages_of_one_origin_are_a_plain_fifo() -> None:
    mailbox = Mailbox(0)
    for n in range(5):
        mailbox.put_nowait(envelope("", n))

    assert [mailbox.get_nowait().body.n for _ in range(5)] == [0, 1, 2, 3, 4]  # type: ignore[attr-defined]


def test_the_capacity_bounds_every_lane_together() -> None:
    mailbox = Mailbox(2)
    mailbox.put_nowait(envelope("a", 1))
    mailbox.put_nowait(envelope("b", 2))

    with pytest.raises(asyncio.QueueFull):
        mailbox.put_nowait(envelope("c", 3))


class Stuck(Actor):
    """Takes one message, then never finishes it until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.seen: list[int] = []

    @handler
    async def on_ping(self, msg: Ping, sender: str) -> None:
        self.seen.append(msg.n)
        await self.release.wait()


class Echo(Actor):
    @handler
    async def on_ping(self, msg: Ping, sender: str) -> Pong:
        return Pong(msg.n + 1)


class Probe(Actor):
    pass


async def test_a_stuck_actor_with_a_full_mailbox_does_not_stall_the_other_actors_of_its_node() -> None:
    hub = LocalHub()
    config = NodeConfig(mailbox_capacity=2, mailbox_stall_s=0.05)
    host = Node("host", LocalTransport("host", hub), config=config)
    stuck = host.spawn(Stuck(), "stuck")
    host.spawn(Echo(), "echo")
    peer = Node("peer", LocalTransport("peer", hub))
    probe = peer.spawn(Probe(), "probe")
    peer.add_route("stuck", "host")
    peer.add_route("echo", "host")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(host.run())
        tg.create_task(peer.run())
        await host.wait_started()
        await peer.wait_started()
        for n in range(5):  # 1 taken, 2 queued, then the mailbox is full: 2 dropped
            await probe.send("stuck", Ping(n))
        with pytest.raises(RemoteActorError, match="MailboxFullError: mailbox of 'stuck' is full"):
            await probe.ask("stuck", Ping(5), timeout_s=10)
        answer = await probe.ask("echo", Ping(1), timeout_s=10)
        stuck.release.set()
        host.stop()
        peer.stop()

    assert answer == Pong(2)
    assert host.dropped == {"mailbox full, actor stuck": 3}
    assert stuck.seen == [0, 1, 2]
