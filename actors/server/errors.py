"""Errors of the server-side math: staleness, aggregation, server optimizers.

Every error here derives from `ServerError`. A mismatch between state dicts is
`actors.statedict.StateDictMismatchError`, raised by the shared check.
"""

from __future__ import annotations

from actors.errors import FedActorsError


class ServerError(FedActorsError):
    """Base class of the errors of server-side aggregation and optimisation."""


class NegativeStalenessError(ServerError):
    """A staleness τ below zero: the client claims a model version from the future.

    Attributes:
        tau: the staleness that was asked for.
    """

    def __init__(self, tau: int) -> None:
        self.tau = tau
        super().__init__(
            f"staleness must be >= 0, got {tau}; compute it as "
            "server version now - version the client started from"
        )


class NoUpdatesError(ServerError):
    """`aggregate` was called with no updates."""

    def __init__(self) -> None:
        super().__init__("aggregate needs at least one update, got none")


class InvalidWeightsError(ServerError):
    """The aggregation weights do not fit the updates.

    Attributes:
        weights: the weights as given.
        reason: what is wrong with them.
    """

    def __init__(self, weights: list[float], reason: str) -> None:
        self.weights = weights
        self.reason = reason
        super().__init__(f"invalid aggregation weights: {reason}")


class NonFiniteUpdateError(ServerError):
    """An update holds NaN or infinite values; it must be dropped, not averaged.

    Attributes:
        index: position of the update in the list given to `aggregate`.
        key: the first key with a non-finite value.
    """

    def __init__(self, index: int, key: str) -> None:
        self.index = index
        self.key = key
        super().__init__(
            f"update {index} has NaN or infinite values in {key!r}; drop that update before aggregating"
        )


class TooFewUpdatesError(ServerError):
    """A robust aggregator got fewer updates than its guarantee needs.

    Attributes:
        aggregator: the aggregator's kind ("krum", "multi_krum").
        required: the least number of updates it accepts.
        actual: how many it got.
        reason: the rule behind `required`.
    """

    def __init__(self, aggregator: str, required: int, actual: int, reason: str) -> None:
        self.aggregator = aggregator
        self.required = required
        self.actual = actual
        self.reason = reason
        super().__init__(
            f"{aggregator} needs at least {required} updates ({reason}), got {actual}; "
            "wait for more updates or lower the configured bound"
        )


class OptimizerStateError(ServerError):
    """A server optimizer's saved state does not fit the optimizer loading it.

    Attributes:
        optimizer: the loading optimizer's kind.
        reason: what does not fit.
    """

    def __init__(self, optimizer: str, reason: str) -> None:
        self.optimizer = optimizer
        self.reason = reason
        super().__init__(f"cannot load state into {optimizer}: {reason}")


class CheckpointError(ServerError):
    """A checkpoint file cannot be read back, or does not fit the actor resuming from it.

    Attributes:
        path: the file.
        reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"checkpoint {path}: {reason} (delete it to start this actor from scratch)")
