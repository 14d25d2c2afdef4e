"""Rendezvous: how node processes that bound ephemeral ports find each other.

    agent -> coordinator   Register(node_id, endpoint, actors)
    coordinator -> agents  Directory(routes, endpoints)      once every node registered
    agent -> coordinator   Ready(node_id)                    its actors are spawned, held
    coordinator -> agents  Start()                           once every node is ready
    coordinator -> agents  Shutdown(reason)                  the run is over

Only the coordinator's address is passed on the command line; no port is
fixed anywhere. Actors are spawned held (their mailboxes queue) before any of
them starts, so no early `Join` finds its parent missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from actors.actor import Actor, handler
from actors.errors import FedActorsError
from actors.messages import Message, message

if TYPE_CHECKING:
    from actors.node import Node

COORDINATOR = "coordinator"  # the coordinator actor, hosted on the launcher's node
LAUNCHER_NODE = "launcher"  # the launcher's node id (its key pair's name)


def agent_name(node_id: str) -> str:
    """The agent actor of node `node_id`."""
    return f"agent@{node_id}"


@message("rdv.register")
class Register(Message):
    node_id: str
    endpoint: str
    actors: list[str]


@message("rdv.directory")
class Directory(Message):
    routes: dict[str, str]  # actor -> node id
    endpoints: dict[str, str]  # node id -> endpoint


@message("rdv.ready")
class Ready(Message):
    node_id: str


@message("rdv.start")
class Start(Message):
    pass


@message("rdv.shutdown")
class Shutdown(Message):
    reason: str


class Coordinator(Actor):
    """The launcher's side: collects registrations, hands out the directory, starts the run.

    Args:
        expected: node ids that must register.
        endpoint: the launcher node's own endpoint (put in the directory too).
        on_started: called once every node has started its actors.
    """

    def __init__(self, expected: Sequence[str], endpoint: str, on_started: Callable[[], None]) -> None:
        self.expected = set(expected)
        self.endpoint = endpoint
        self.on_started = on_started
        self.registered: dict[str, Register] = {}
        self.ready: set[str] = set()

    @handler
    async def on_register(self, msg: Register, sender: str) -> None:
        if msg.node_id not in self.expected:
            self.log.warning("unexpected_node", node=msg.node_id)
            return
        self.registered[msg.node_id] = msg
        self.log.debug("node_registered", node=msg.node_id, endpoint=msg.endpoint)
        if set(self.registered) == self.expected:
            directory = self._directory()
            for node_id in sorted(self.expected):
                await self.send(agent_name(node_id), directory)

    @handler
    async def on_ready(self, msg: Ready, sender: str) -> None:
        self.ready.add(msg.node_id)
        if self.ready == self.expected:
            for node_id in sorted(self.expected):
                await self.send(agent_name(node_id), Start())
            self.on_started()

    async def shutdown_all(self, reason: str) -> None:
        """Tell every registered node to stop (those that cannot be reached are skipped)."""
        for node_id in sorted(self.registered):
            try:
                await self.send(agent_name(node_id), Shutdown(reason))
            except FedActorsError as exc:
                self.log.debug("shutdown_not_sent", node=node_id, reason=str(exc))

    def _directory(self) -> Directory:
        routes = {actor: r.node_id for r in self.registered.values() for actor in r.actors}
        routes.update({agent_name(n): n for n in self.registered})
        endpoints = {n: r.endpoint for n, r in self.registered.items()}
        return Directory(routes, endpoints)


def advertised(endpoint: str, host: str | None) -> str:
    """`endpoint` with its host replaced by `host` (for NAT or multi-homed machines)."""
    if host is None:
        return endpoint
    return re.sub(r"^(tcp://)[^:]+(:\d+)$", rf"\g<1>{host}\g<2>", endpoint)


class NodeAgent(Actor):
    """A node process's side: registers, installs the directory, spawns and starts its actors.

    The one actor that manages its node, so the one given the node itself (every other
    actor sees only its `ActorContext`).

    Args:
        node: the node it manages.
        actors: the node's role actors by name, parents first (spawned on `Directory`).
        advertise_host: the host peers should dial instead of the bound one.
    """

    def __init__(
        self, node: Node, actors: list[tuple[str, Actor]], advertise_host: str | None = None
    ) -> None:
        self.node = node
        self.actors = actors
        self.advertise_host = advertise_host

    async def on_start(self) -> None:
        transport = self.node.transport
        assert transport is not None
        names = [name for name, _ in self.actors]
        endpoint = advertised(transport.endpoint, self.advertise_host)
        await self.send(COORDINATOR, Register(self.node.node_id, endpoint, names))

    @handler
    async def on_directory(self, msg: Directory, sender: str) -> None:
        for routed, node_id in msg.routes.items():
            if node_id != self.node.node_id:
                self.node.add_route(routed, node_id, msg.endpoints[node_id])
        for name, actor in self.actors:
            self.node.spawn(actor, name, start=False)
        await self.send(sender, Ready(self.node.node_id))

    @handler
    async def on_start_msg(self, msg: Start, sender: str) -> None:
        for name, _ in self.actors:
            self.node.start_actor(name)

    @handler
    async def on_shutdown(self, msg: Shutdown, sender: str) -> None:
        self.log.debug("shutdown_received", reason=msg.reason)
        self.node.stop()
