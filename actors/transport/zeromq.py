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
- frames that do not decode: logged with the reason and dropped (sampled); the node goes on;
- with CURVE, a peer that proved one node's key but speaks as another node id:
  dropped (`key not of its node`), so that with a key pair per node a key admits one node;
- frames over `max_frame_bytes`: refused by ZeroMQ itself (ZMQ_MAXMSGSIZE) before
  they are buffered, and the offending connection is closed;
- handshake refused (a CURVE key the peer does not allow, a wrong server key,
  CURVE on one side only): `PeerUnreachableError` saying why, as soon as the
  monitor reports it; the endpoint is disconnected so nothing retries behind our back.

CURVE (`ZmqConfig.curve`, see `actors.transport.curve`): options are copied into
each bound or connected endpoint when `bind`/`connect` is called, so the one
ROUTER socket binds as a CURVE server and, just before each `connect`, is made a
CURVE client of that peer's key (`CURVE_SERVERKEY` clears `CURVE_SERVER` until
it is set again). A ZAP handler on the socket's own context admits a connecting
peer only if its public key is allowed; ZAP_ENFORCE_DOMAIN makes a missing
handler refuse everyone rather than admit everyone. Peers that fail the
handshake never get a routing id, so none of their frames reaches `recv`.

This is the only module that imports zmq.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any, cast

import structlog
import zmq
import zmq.asyncio
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from actors.codec import decode, encode
from actors.errors import DecodeError, PeerUnreachableError, TransportClosedError
from actors.logs import sampled
from actors.messages import Envelope
from actors.transport.base import Transport
from actors.transport.curve import CurveConfig
from actors.transport.zmq_config import ZmqConfig as ZmqConfig

_ATTACH_RETRIES = 50  # handshake seen, route not yet attached: retry this many times
ZAP_ENDPOINT = "inproc://zeromq.zap.01"  # fixed by the ZAP spec (RFC 27), one per context
ZAP_DOMAIN = b"fedactors"
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_MONITORED = zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED | _HANDSHAKE_FAILED


def new_curve_key_pair() -> tuple[str, str]:
    """A fresh CURVE key pair `(public, secret)` as Z85 text."""
    public, secret = zmq.curve_keypair()
    return public.decode("ascii"), secret.decode("ascii")


def curve_public_key(secret_key: str) -> str:
    """The public key that belongs to `secret_key` (both Z85).

    Raises:
        ValueError: `secret_key` is not a Z85 key.
    """
    try:
        return zmq.curve_public(secret_key.encode("ascii")).decode("ascii")
    except (zmq.ZMQError, UnicodeEncodeError) as exc:
        raise ValueError(f"not a Z85 CURVE secret key: {exc}") from exc


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
        self._refused: dict[str, str] = {}  # connected endpoint -> why its handshake failed
        self._zap: _ZapHandler | None = None
        self._monitor_lock = asyncio.Lock()
        self.dropped = 0
        self.key_mismatches = 0  # messages whose peer proved another node's key than its id's
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
        self._monitor = sock.get_monitor_socket(_MONITORED)
        self._sock = sock
        if self.config.curve is not None:
            self._zap = _ZapHandler(self._ctx, self.config.curve.allowed_clients, self.log)
            _make_curve_server(sock, self.config.curve)
        sock.bind(self._bind)
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
            if not self._bound_to_its_key(frames, origin):
                await asyncio.sleep(0)
                continue
            try:
                return decode([f.buffer for f in frames[1:]], self.config.limits, origin)
            except DecodeError as exc:
                self.dropped += 1
                if sampled(self.dropped):  # a flood of garbage makes a few lines
                    self.log.warning(
                        "message_dropped",
                        origin=origin,
                        error=type(exc).__name__,
                        reason=str(exc),
                        count=self.dropped,
                    )
                await asyncio.sleep(0)  # a receive that finds its message waiting never suspends

    def _bound_to_its_key(self, frames: list[zmq.Frame], origin: str) -> bool:
        """With CURVE: False (and the message dropped) if the key the peer proved is not its node's.

        Only connections a peer made to us carry the key our ZAP handler admitted
        (ZeroMQ's `User-Id`); on one we made, the peer proved `server_key(origin)`.
        """
        curve = self.config.curve
        if curve is None or len(frames) < 2:
            return True
        try:
            key = cast(str, frames[1].get("User-Id"))  # a string property: pyzmq returns str
        except zmq.ZMQError:  # a connection we made: no ZAP on our side
            return True
        if curve.may_use(key, origin):
            return True
        self.dropped += 1
        self.key_mismatches += 1
        if sampled(self.key_mismatches):
            self.log.warning(
                "message_dropped",
                origin=origin,
                key=key,
                reason="key not of its node",
                count=self.key_mismatches,
            )
        return False

    async def close(self) -> None:
        if self._zap is not None:
            self._zap.close()
            self._zap = None
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
            self._connect(node_id, endpoint)
        await self._wait_handshake(node_id, endpoint)
        return attach_retries

    def _connect(self, node_id: str, endpoint: str) -> None:
        sock = self._open_socket()
        curve = self.config.curve
        self._refused.pop(endpoint, None)
        try:
            if curve is not None:  # this connection (only) is a CURVE client of the peer's key
                sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server_key(node_id).encode("ascii"))
            sock.connect(endpoint)
        except zmq.ZMQError as exc:
            raise PeerUnreachableError(node_id, endpoint, f"cannot connect: {exc.strerror}") from exc
        finally:
            if curve is not None:
                sock.setsockopt(zmq.CURVE_SERVER, 1)
        self._connected.add(endpoint)

    async def _wait_handshake(self, node_id: str, endpoint: str) -> None:
        def settled() -> bool:
            return endpoint in self._handshaken or endpoint in self._refused

        try:
            async with asyncio.timeout(self.config.connect_timeout_s):
                await self._read_monitor_events(until=settled)
        except TimeoutError:
            raise PeerUnreachableError(
                node_id, endpoint, f"no handshake within {self.config.connect_timeout_s} s"
            ) from None
        if endpoint not in self._handshaken:
            # ZeroMQ would retry a refused handshake forever; stop it, and start afresh next send.
            with contextlib.suppress(zmq.ZMQError):  # ENOENT: ZeroMQ already dropped it
                self._open_socket().disconnect(endpoint)
            self._connected.discard(endpoint)
            reason = self._refused.pop(endpoint)
            self.log.warning("handshake_refused", peer=node_id, endpoint=endpoint, reason=reason)
            raise PeerUnreachableError(node_id, endpoint, f"handshake refused: {reason}")

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

    def _apply_event(self, event: Mapping[str, Any]) -> None:
        endpoint = event["endpoint"].decode() if isinstance(event["endpoint"], bytes) else event["endpoint"]
        if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._handshaken.add(endpoint)
            self._refused.pop(endpoint, None)  # a retry got through (the peer came back right)
        elif event["event"] == zmq.EVENT_DISCONNECTED:
            self._handshaken.discard(endpoint)
        elif event["event"] & _HANDSHAKE_FAILED and endpoint in self._connected:
            self._refused[endpoint] = _handshake_failure(event["event"], event["value"], self.config.curve)


# -- CURVE -----------------------------------------------------------------------


def _make_curve_server(sock: zmq.Socket[Any], curve: CurveConfig) -> None:
    """Make every endpoint bound from now on a CURVE server checked by ZAP."""
    sock.setsockopt(zmq.CURVE_SERVER, 1)
    sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.public_key.encode("ascii"))
    sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret_key.encode("ascii"))
    sock.setsockopt(zmq.ZAP_DOMAIN, ZAP_DOMAIN)
    sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)


def _handshake_failure(event: int, value: int, curve: CurveConfig | None) -> str:
    """Why a handshake failed, in words that say what to check.

    Which side notices first is a race: a peer with another mechanism may be
    reported as a mismatch or as a closed connection, so both say what we use.
    """
    ours = "CURVE" if curve is not None else "plaintext"
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return f"the peer does not allow our CURVE public key (ZAP status {value})"
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return f"security mechanism mismatch: we use {ours}, the peer does not"
    if curve is not None:
        return "the peer closed the handshake; we use CURVE: does it, and is its key the one we expect?"
    return "the peer closed the handshake; we use plaintext: does it require CURVE?"


class _ZapHandler:
    """Answers the ZAP requests of one context: admits CURVE clients whose key is allowed.

    It runs as a reader callback on the event loop, not as a task: every answer
    is a set lookup, and a callback needs no owner to cancel it. ZeroMQ's FD is
    edge-triggered, so each wake-up drains every queued request.

    Args:
        ctx: the transport's context (ZAP is per context).
        allowed: Z85 public keys of the clients to admit.
        log: where refusals are logged (`peer_refused`, with the key).
    """

    def __init__(self, ctx: zmq.Context[Any], allowed: frozenset[str], log: Any) -> None:
        self.allowed = allowed
        self.log = log
        self.refused = 0
        self._sock: zmq.Socket[Any] = ctx.socket(zmq.REP, socket_class=zmq.Socket)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind(ZAP_ENDPOINT)
        self._fd = self._sock.getsockopt(zmq.FD)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._serve)
        self._serve()

    def _serve(self) -> None:
        while cast(int, self._sock.getsockopt(zmq.EVENTS)) & zmq.POLLIN:  # an int option
            request = self._sock.recv_multipart(zmq.NOBLOCK)
            self._sock.send_multipart(self._answer(request))

    def _answer(self, request: list[bytes]) -> list[bytes]:
        """RFC 27: version, id, domain, address, identity, mechanism, credentials."""
        if len(request) < 6 or request[0] != b"1.0":
            self.log.warning("zap_request_malformed", frames=len(request))
            return [b"1.0", request[1] if len(request) > 1 else b"", b"500", b"malformed request", b"", b""]
        version, request_id, _domain, address, _identity, mechanism = request[:6]
        key = z85.encode(request[6]).decode("ascii") if mechanism == b"CURVE" and len(request) == 7 else ""
        if key in self.allowed:
            self.log.debug("peer_admitted", address=address.decode(errors="replace"), key=key)
            return [version, request_id, b"200", b"OK", key.encode("ascii"), b""]
        self.refused += 1
        if sampled(self.refused):  # a plaintext peer retrying, or a scan: a few lines, not one each
            self.log.warning(
                "peer_refused",
                address=address.decode(errors="replace"),
                mechanism=mechanism.decode(errors="replace"),
                key=key,
                count=self.refused,
            )
        return [version, request_id, b"400", b"CURVE key not allowed", b"", b""]

    def close(self) -> None:
        self._loop.remove_reader(self._fd)
        self._sock.close(linger=0)
