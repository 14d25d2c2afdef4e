"""What every aggregator shares: its interface, its settings base, and the validation of its inputs.

An aggregator turns the clients' updates (deltas x_i - x_global) and their
weights (usually sample counts) into one delta. Every aggregator validates the
same way before doing any math, so a server gets the same typed errors
whichever aggregator a topology file chose.

Each aggregator's file holds its settings (a subclass of `AggregatorSettings`,
the `[server] aggregator` table) beside the aggregator they build. The topology
schema imports those settings, and `fedactors validate` must not pay for
torch, so these files take torch and `actors.statedict` lazily: they are
imported when an aggregator first aggregates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from actors.lazy import LazyModule
from actors.server.errors import InvalidWeightsError, NonFiniteUpdateError, NoUpdatesError

if TYPE_CHECKING:
    import torch

    from actors import statedict
    from actors.statedict import StateDict
else:
    torch = LazyModule("torch")
    statedict = LazyModule("actors.statedict")


class Aggregator(Protocol):
    """Combines client updates into one update."""

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the aggregate of `updates`; see `check_updates` for what is raised."""
        ...


class AggregatorSettings(BaseModel):
    """Base of each aggregator's settings: `kind` (a one-value `Literal`, its name in
    topology files) and the aggregator they build."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str

    def build(self) -> Aggregator:
        """The aggregator these settings describe."""
        raise NotImplementedError

    def least_updates(self) -> tuple[int, str]:
        """The fewest updates the aggregator accepts in one aggregation, and the rule why."""
        return 1, "at least one update"


S = TypeVar("S", bound=AggregatorSettings)


class CheckedAggregator(Generic[S]):
    """A built-in aggregator: built from its settings, it checks its inputs
    (`check_updates`) and then `combine`s them."""

    def __init__(self, config: S) -> None:
        self.config = config

    def aggregate(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the aggregate of `updates`.

        Raises:
            NoUpdatesError, StateDictMismatchError, NonFiniteUpdateError,
            InvalidWeightsError: see `check_updates`; and what `combine` raises.
        """
        check_updates(updates, weights)
        return self.combine(updates, weights)

    def combine(self, updates: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
        """Return the aggregate of checked `updates`."""
        raise NotImplementedError


def check_updates(updates: Sequence[StateDict], weights: Sequence[float], *, finite: bool = True) -> None:
    """Validate the arguments of `Aggregator.aggregate`.

    With `finite=False` the values are not looked at: an aggregator that checks
    its result instead calls `check_finite` only when the result is not finite.

    Raises:
        NoUpdatesError: `updates` is empty.
        StateDictMismatchError: an update's keys or shapes differ from update 0's.
        NonFiniteUpdateError: an update holds NaN or infinite values.
        InvalidWeightsError: not one weight per update, a weight is negative or
            not finite, or all weights are zero.
    """
    if not updates:
        raise NoUpdatesError()
    for index, update in enumerate(updates):
        statedict.check_same_keys_and_shapes(updates[0], update, who=f"update {index}")
        if finite:
            _check_finite(index, update)
    _check_weights(len(updates), weights)


def check_finite(updates: Sequence[StateDict]) -> None:
    """Raise `NonFiniteUpdateError` for the first update (and key) holding NaN or an infinity."""
    for index, update in enumerate(updates):
        _check_finite(index, update)


def is_finite(tree: StateDict) -> bool:
    """No floating tensor of `tree` holds NaN or an infinity."""
    return all(bool(torch.isfinite(t).all()) for t in tree.values() if t.is_floating_point())


def _check_finite(index: int, update: StateDict) -> None:
    for key, tensor in update.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise NonFiniteUpdateError(index, key)


def _check_weights(count: int, weights: Sequence[float]) -> None:
    listed = list(weights)
    if len(listed) != count:
        reason = f"expected one weight per update ({count}), got {len(listed)}"
        raise InvalidWeightsError(listed, reason)
    for index, weight in enumerate(listed):
        if not math.isfinite(weight) or weight < 0:
            reason = f"weight {index} must be finite and >= 0, got {weight}"
            raise InvalidWeightsError(listed, reason)
    if not any(w > 0 for w in listed):
        reason = "at least one weight must be > 0, all are zero"
        raise InvalidWeightsError(listed, reason)
