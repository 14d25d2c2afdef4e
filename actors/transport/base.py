"""The interface every transport offers a `Node`.

A transport moves envelopes between nodes. It knows nodes, not actors: the
node maps actor names to node ids with its directory and hands the transport
`(node id, envelope)`. Envelopes arrive with `origin` set to the sending node.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from actors.messages import Envelope


class Transport(ABC):
    """Moves envelopes between nodes.

    Attributes:
        node_id: this node's id, unique in a run.
    """

    node_id: str

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """The address peers reach this node at (valid after `start`)."""

    @abstractmethod
    async def start(self) -> str:
        """Bind and return the endpoint peers can reach us at."""

    @abstractmethod
    def add_peer(self, node_id: str, endpoint: str) -> None:
        """Learn where node `node_id` listens; the connection is made when first used."""

    @abstractmethod
    async def send(self, node_id: str, envelope: Envelope) -> None:
        """Hand `envelope` to node `node_id`, waiting while the peer pushes back.

        Raises:
            PeerUnreachableError: the node is unknown or does not take messages
                within the transport's timeout.
            TransportClosedError: this transport was closed.
        """

    @abstractmethod
    async def recv(self) -> Envelope:
        """The next envelope for this node. Undecodable input is logged and dropped.

        Raises:
            TransportClosedError: this transport was closed.
        """

    @abstractmethod
    async def close(self) -> None:
        """Release sockets and buffers; pending `recv` calls raise TransportClosedError."""
