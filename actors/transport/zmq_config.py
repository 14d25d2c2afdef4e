"""How the ZeroMQ transport (`actors.transport.zeromq`) is tuned, readable without zmq:
a launcher resolves a node's configuration before any socket exists."""

from __future__ import annotations

from dataclasses import dataclass

from actors.codec import DEFAULT_LIMITS, DecodeLimits
from actors.transport.curve import CurveConfig

# Messages queued per peer, each way. An FL message carries a whole model, so what one
# peer can make us hold is this many of its messages (1000 updates of 64 KB: 65 MB; with
# 10k it was 650 MB, see benchmarks/flood.py); a full queue makes its sender wait.
SEND_HWM = 1_000
RECV_HWM = 1_000


@dataclass(frozen=True, slots=True)
class ZmqConfig:
    """Tuning of the ZeroMQ transport.

    Attributes:
        connect_timeout_s: how long a first send waits for the peer's handshake.
        send_timeout_s: how long a send waits while the peer's queue is full.
        send_hwm: messages queued per peer before senders wait.
        recv_hwm: messages queued per peer on receipt before that peer waits.
        limits: what the decoder accepts (frame size, frame count).
        curve: CURVE keys; None sends plaintext (only for loopback and trusted networks).
    """

    connect_timeout_s: float = 10.0
    send_timeout_s: float = 30.0
    send_hwm: int = SEND_HWM
    recv_hwm: int = RECV_HWM
    limits: DecodeLimits = DEFAULT_LIMITS
    curve: CurveConfig | None = None
