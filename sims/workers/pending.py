"""Results that arrive later: a worker's trained weights, read when the simulation needs them.

A client calls `fit` and gets these at once; the job trains on a worker while
the client waits its modelled compute time on the virtual clock and the rest
of the simulation goes on. The first read (at the virtual time the result is
due) waits in wall time for the worker, if it is not done yet. So the clock
jumps freely past events that need no result, and every event happens in the
same order, with the same numbers, as when training runs inline.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

import torch

from actors.statedict import StateDict
from sims.workers.protocol import JobDone

if TYPE_CHECKING:
    from _collections_abc import dict_items, dict_keys, dict_values


class PendingWeights(dict[str, torch.Tensor]):
    """A state dict filled from a worker's reply on first use.

    A `dict`, so code that checks for one takes it; every read goes through a
    method here that fills it first. Once filled it is an ordinary dict (C code
    that reads a dict's storage directly, like msgpack's packer, then sees it
    all; `resolved` fills it before such use).
    """

    __slots__ = ("_job",)

    def __init__(self, job: Future[JobDone]) -> None:
        super().__init__()
        self._job: Future[JobDone] | None = job

    def _fill(self) -> None:
        if self._job is not None:
            done = self._job.result()  # raises the job's error (WorkerError, or what training raised)
            dict.update(self, done.weights)
            self._job = None

    def __getitem__(self, key: str) -> torch.Tensor:
        self._fill()
        return dict.__getitem__(self, key)

    def __iter__(self) -> Iterator[str]:
        self._fill()
        return dict.__iter__(self)

    def __len__(self) -> int:
        self._fill()
        return dict.__len__(self)

    def __contains__(self, key: object) -> bool:
        self._fill()
        return dict.__contains__(self, key)

    def __eq__(self, other: object) -> bool:
        self._fill()
        return dict.__eq__(self, other)

    __hash__ = None

    def __repr__(self) -> str:
        return dict.__repr__(self) if self._job is None else "PendingWeights(<training>)"

    def keys(self) -> dict_keys[str, torch.Tensor]:
        self._fill()
        return dict.keys(self)

    def values(self) -> dict_values[str, torch.Tensor]:
        self._fill()
        return dict.values(self)

    def items(self) -> dict_items[str, torch.Tensor]:
        self._fill()
        return dict.items(self)

    def get(self, key: str, default: Any = None) -> Any:
        self._fill()
        return dict.get(self, key, default)

    def copy(self) -> StateDict:
        self._fill()
        return dict(dict.items(self))

    def __reduce__(self) -> Any:
        return (dict, (self.copy(),))


class PendingResult:
    """A `TrainResult` whose step count and loss come with the worker's reply."""

    __slots__ = ("_job", "num_samples")

    def __init__(self, job: Future[JobDone], num_samples: int) -> None:
        self._job = job
        self.num_samples = num_samples

    @property
    def num_steps(self) -> int:
        return self._job.result().num_steps

    @property
    def mean_loss(self) -> float:
        return self._job.result().mean_loss


def resolved(weights: StateDict) -> StateDict:
    """`weights` with every pending value filled (to hand to C code or the wire)."""
    if isinstance(weights, PendingWeights):
        weights._fill()
    return weights
