"""Errors of the actor runtime, the codec and the transports.

Every error fedactors raises derives from `FedActorsError`. "Closed by us" and
"broken by the peer" are different classes, as in trio.
"""

from __future__ import annotations


class FedActorsError(Exception):
    """Base class of every fedactors error."""


# -- wire ---------------------------------------------------------------------


class DecodeError(FedActorsError):
    """Frames from a peer could not be decoded; the message is dropped.

    Attributes:
        expected: what the decoder expected.
        got: what arrived instead.
        path: where in the message, when known (`fl.task.weights['fc.bias']`).
    """

    def __init__(self, expected: str, got: str, path: str = "") -> None:
        self.expected = expected
        self.got = got
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(f"{self.what}: {where}expected {expected}, got {got}")

    def at(self, path: str) -> DecodeError:
        """The same error, placed at `path`."""
        return type(self)(self.expected, self.got, path)

    what = "undecodable message"


class TruncatedEnvelopeError(DecodeError):
    what = "truncated envelope"


class MalformedEnvelopeError(DecodeError):
    what = "malformed envelope"


class UnknownKindError(DecodeError):
    what = "unknown message kind"


class InvalidFieldError(DecodeError):
    what = "invalid message field"


class FrameCountError(DecodeError):
    what = "wrong number of frames"


class UnknownDtypeError(DecodeError):
    what = "unknown tensor dtype"


class TensorSizeError(DecodeError):
    what = "tensor bytes do not match dtype and shape"


class OversizeFrameError(DecodeError):
    what = "frame over the size limit"


class EncodeError(FedActorsError):
    """A message holds something that cannot go on the wire (a CUDA tensor, an object)."""


# -- runtime ------------------------------------------------------------------


class ActorError(FedActorsError):
    """Base class of runtime errors about actors and messages."""


class ActorNotFoundError(ActorError):
    """No actor of that name is known to this node or its directory."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"no actor named {name!r} is known to this node or its directory")


class DuplicateActorError(ActorError):
    """An actor of that name already runs on this node."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"an actor named {name!r} already runs on this node")


class AskTimeoutError(ActorError, TimeoutError):
    """An `ask` got no reply within its timeout (the peer is dead, slow or silent)."""

    def __init__(self, receiver: str, kind: str, timeout_s: float) -> None:
        self.receiver = receiver
        self.kind = kind
        self.timeout_s = timeout_s
        super().__init__(f"ask {kind!r} to {receiver!r}: no reply within {timeout_s} s")


class ActorStoppedError(ActorError):
    """The actor stopped (or its node shut down) before it could handle the message."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"actor {name!r} stopped before it replied")


class RemoteActorError(ActorError):
    """The handler of an `ask` raised on the receiving side.

    Attributes:
        receiver: the actor whose handler failed.
        error_type: the class name of the remote exception.
        detail: its message.
    """

    def __init__(self, receiver: str, error_type: str, detail: str) -> None:
        self.receiver = receiver
        self.error_type = error_type
        self.detail = detail
        super().__init__(f"actor {receiver!r} failed handling the ask: {error_type}: {detail}")


class ActorFailedError(ActorError):
    """An actor's own work (a task it started) raised unexpectedly: the actor
    stopped and its node stopped, failing the run.

    Attributes:
        failure: "actor:task: ErrorType: message" of the first such failure.
    """

    def __init__(self, failure: str) -> None:
        self.failure = failure
        super().__init__(f"an actor failed, the run stops: {failure} (traceback in the log: task_failed)")


class MailboxFullError(ActorError):
    """`send_nowait` found the receiver's mailbox full (use `send` to wait)."""

    def __init__(self, name: str, capacity: int) -> None:
        self.name = name
        self.capacity = capacity
        super().__init__(f"mailbox of {name!r} is full ({capacity} messages)")


class NodeClosedError(ActorError):
    """The node was shut down by us; nothing more can be sent from it."""


# -- transport ----------------------------------------------------------------


class TransportError(FedActorsError):
    """Base class of transport failures."""


class PeerUnreachableError(TransportError):
    """The peer node is unknown, did not accept a connection, or stopped taking messages.

    Attributes:
        peer: the node id.
        endpoint: the address tried, when there was one.
    """

    def __init__(self, peer: str, endpoint: str | None, reason: str) -> None:
        self.peer = peer
        self.endpoint = endpoint
        self.reason = reason
        where = f" at {endpoint}" if endpoint else ""
        super().__init__(f"node {peer!r}{where} is unreachable: {reason}")


class TransportClosedError(TransportError):
    """The transport was closed by us."""


class KeyFileError(TransportError):
    """A CURVE key file (or key directory) is missing, unreadable or malformed.

    Attributes:
        path: the file or directory.
        reason: what is wrong with it, and how to fix it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"key file {path}: {reason}")
