"""ZeroMQ transport: one ROUTER socket per node, tcp or ipc, zero-copy tensor frames.

Every node binds one ROUTER socket whose routing id is its node id, and
connects that same socket to a peer the first time it sends there. Because
ZMTP exchanges routing ids, a connection made by either side carries messages
both ways: a server can answer a client that connected to it without knowing
the client's address.

Failures this transport handles (and how):
- unknown peer (no endpoint, not connected to us): `PeerUnreachableError` at once;
- peer that does not complete a handshake within `connect_timeout_s`:
  `PeerUnreachableError` (ROUTER_MANDATORY turns ZeroMQ's silent drop into an error);
- peer whose queue is full (high-water mark): `send` waits, up to `send_timeout_s`,
  then `PeerUnreachableError`; memory stays bounded on both sides;
- peer that restarts under the same id: ROUTER_HANDOVER gives the new connection the id;
- frames that do not decode: logged with the reason and dropped; the node goes on;
- frames over `max_frame_bytes`: refused by ZeroMQ itself (ZMQ_MAXMSGSIZE) before
  they are buffered, and the offending connection is closed.

This is the only module that imports zmq.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from actors.codec import DEFAULT_LIMITS, DecodeLimits, decode, encode
from actors.errors import DecodeError, PeerUnreachableError, TransportClosedError
from actors.messages import Envelope
from actors.transport.base import Transport

# One message per peer is ~2 frames for small messages; 10k queued messages per
# peer bounds a flood to a few MB of headers while never blocking normal FL traffic.
SEND_HWM = 10_000
RECV_HWM = 10_000
_ATTACH_RETRIES = 50  # handshake seen, route not yet attached: retry this many times


@dataclass(frozen=True, slots=True)
class ZmqConfig:
    """Tuning of the ZeroMQ transport.

    Attributes:
        connect_timeout_s: how long a first send waits for the peer's handshake.
        send_timeout_s: how long a send waits while the peer's queue is full.
        send_hwm: messages queued per peer before senders wait.
        recv_hwm: messages queued per peer on receipt before that peer waits.
        limits: what the decoder accepts (frame size, frame count).
    """

    connect_timeout_s: float = 10.0
    send_timeout_s: float = 30.0
    send_hwm: int = SEND_HWM
    recv_hwm: int = RECV_HWM
    limits: DecodeLimits = DEFAULT_LIMITS


class ZmqTransport(Transport):
    """A node's ROUTER socket.

    Args:
        node_id: this node's id (its ZeroMQ routing id; 1–255 bytes of UTF-8).
        bind: where to listen, e.g. `tcp://127.0.0.1:*` (ephemeral port) or
            `ipc:///tmp/run/node0.sock`.
        config: timeouts, queue bounds and decode limits.
    """

    def __init__(
        self, node_id: str, bind: str = "tcp://127.0.0.1:*", config: ZmqConfig | None = None
    ) -> None:
        if not node_id or len(node_id.encode()) > 255:
            raise ValueError(f"node id must be 1-255 bytes, got {node_id!r}")
        self.node_id = node_id
        self.config = config or ZmqConfig()
        self._bind = bind
        self._endpoint = ""
        self._peers: dict[str, str] = {}
        self._ctx: zmq.asyncio.Context | None = None
        self._sock: zmq.asyncio.Socket | None = None
        self._monitor: zmq.asyncio.Socket | None = None
        self._handshaken: set[str] = set()
        self._connected: set[str] = set()
        self._monitor_lock = asyncio.Lock()
        self.dropped = 0
        self.log = structlog.get_logger("fedactors.transport").bind(node=node_id)

    @property
    def endpoint(self) -> str:
        return self._endpoint

    async def start(self) -> str:
        self._ctx = zmq.asyncio.Context()
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTING_ID, self.node_id.encode())
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)
        sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
        sock.setsockopt(zmq.SNDHWM, self.config.send_hwm)
        sock.setsockopt(zmq.RCVHWM, self.config.recv_hwm)
        sock.setsockopt(zmq.MAXMSGSIZE, self.config.limits.max_frame_bytes)
        sock.setsockopt(zmq.SNDTIMEO, round(self.config.send_timeout_s * 1000))
        self._monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED)
        sock.bind(self._bind)
        self._sock = sock
        self._endpoint = sock.getsockopt_string(zmq.LAST_ENDPOINT)
        return self._endpoint

    def add_peer(self, node_id: str, endpoint: str) -> None:
        self._peers[node_id] = endpoint

    async def send(self, node_id: str, envelope: Envelope) -> None:
        sock = self._open_socket()
        frames = [node_id.encode(), *encode(envelope)]
        attach_retries = _ATTACH_RETRIES
        while True:
            try:
                # SNDTIMEO bounds the wait for room; pyzmq starts that timer only
                # when the immediate send finds the peer's queue full.
                await sock.send_multipart(frames, copy=False)
                return
            except zmq.Again:
                raise PeerUnreachableError(
                    node_id, self._peers.get(node_id), f"queue full for {self.config.send_timeout_s} s"
                ) from None
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EHOSTUNREACH:
                    raise PeerUnreachableError(node_id, self._peers.get(node_id), exc.strerror) from exc
            attach_retries = await self._await_route(node_id, attach_retries)

    async def recv(self) -> Envelope:
        sock = self._open_socket()
        while True:
            try:
                frames = await sock.recv_multipart(copy=False)
            except zmq.ZMQError as exc:
                raise TransportClosedError(f"socket of node {self.node_id!r} closed: {exc}") from exc
            origin = frames[0].bytes.decode(errors="replace")
            try:
                return decode([f.buffer for f in frames[1:]], self.config.limits, origin)
            except DecodeError as exc:
                self.dropped += 1
                self.log.warning("message_dropped", origin=origin, error=type(exc).__name__, reason=str(exc))

    async def close(self) -> None:
        if self._sock is not None:
            self._sock.disable_monitor()
            self._sock.close(linger=0)
            self._sock = None
        if self._monitor is not None:
            self._monitor.close(linger=0)
            self._monitor = None
        if self._ctx is not None:
            self._ctx.term()
            self._ctx = None

    # -- connections -----------------------------------------------------------

    def _open_socket(self) -> zmq.asyncio.Socket:
        if self._sock is None:
            raise TransportClosedError(f"transport of node {self.node_id!r} is closed")
        return self._sock

    async def _await_route(self, node_id: str, attach_retries: int) -> int:
        """Make `node_id` routable (connect, wait for its handshake) or raise.

        Returns the attach retries left. ZeroMQ reports the handshake on the
        monitor a moment before the socket can route to the peer, so a send
        right after it may still fail; those few retries are counted.
        """
        endpoint = self._peers.get(node_id)
        if endpoint is None:
            raise PeerUnreachableError(node_id, None, "no endpoint known and no connection from it")
        await self._drain_monitor()
        if endpoint in self._handshaken:
            if attach_retries <= 0:
                raise PeerUnreachableError(node_id, endpoint, "connected but the peer refuses its id")
            await asyncio.sleep(0.001 * (_ATTACH_RETRIES - attach_retries))
            return attach_retries - 1
        if endpoint not in self._connected:
            try:
                self._open_socket().connect(endpoint)
            except zmq.ZMQError as exc:
                raise PeerUnreachableError(node_id, endpoint, f"cannot connect: {exc.strerror}") from exc
            self._connected.add(endpoint)
        await self._wait_handshake(node_id, endpoint)
        return attach_retries

    async def _wait_handshake(self, node_id: str, endpoint: str) -> None:
        try:
            async with asyncio.timeout(self.config.connect_timeout_s):
                await self._read_monitor_events(until=lambda: endpoint in self._handshaken)
        except TimeoutError:
            raise PeerUnreachableError(
                node_id, endpoint, f"no handshake within {self.config.connect_timeout_s} s"
            ) from None

    async def _drain_monitor(self) -> None:
        async with self._monitor_lock:
            while self._monitor is not None and await self._monitor.poll(0):
                self._apply_event(parse_monitor_message(await self._monitor.recv_multipart()))

    async def _read_monitor_events(self, until: Callable[[], bool]) -> None:
        """Apply monitor events until `until()` holds; one reader at a time."""
        async with self._monitor_lock:
            while not until():
                if self._monitor is None:
                    raise TransportClosedError(f"transport of node {self.node_id!r} is closed")
                self._apply_event(parse_monitor_message(await self._monitor.recv_multipart()))

    def _apply_event(self, event: dict[str, Any]) -> None:
        endpoint = event["endpoint"].decode() if isinstance(event["endpoint"], bytes) else event["endpoint"]
        if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._handshaken.add(endpoint)
        elif event["event"] == zmq.EVENT_DISCONNECTED:
            self._handshaken.discard(endpoint)
