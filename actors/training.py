"""What every role that trains, evaluates or stops shares: the training types of the core.

Clients train with a `Trainer`, gossip peers too; servers, schedulers and the
gossip monitor score models into an `Evaluation` and end a run by the same
`StopConfig`; clients and peers follow a `ClientBehaviour`'s `WorkPlan`. These
live here, below the roles, so that no role imports another (the layering rule
of `actors`: roles import the core, never each other).

The torch implementations stay with the client (`actors.client.local_sgd`,
`actors.client.trainer.TorchTrainer`): this module imports no torch, so the
schema (`StopConfig`) loads without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from actors.clock import Clock
    from actors.statedict import StateDict


# -- results -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TrainResult:
    """What one call of `local_train` (or a `Trainer`'s `fit`) did.

    Attributes:
        num_samples: size of the local dataset (the client's FedAvg weight).
        num_steps: SGD steps taken.
        mean_loss: mean cross-entropy over every sample seen during training,
            each at the weights of its step (the proximal term is not included).
    """

    num_samples: int
    num_steps: int
    mean_loss: float


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Mean cross-entropy and accuracy of a model on a dataset."""

    loss: float
    accuracy: float
    num_samples: int


Evaluator: TypeAlias = "Callable[[StateDict], Evaluation]"
"""Scores a model on a dataset (a server's or the gossip monitor's test set)."""


# -- training ------------------------------------------------------------------


class Trainer(Protocol):
    """Local training and evaluation on one client's (or peer's) data."""

    @property
    def num_samples(self) -> int:
        """Training samples this client holds (its aggregation weight)."""
        ...

    def fit(self, weights: StateDict, epochs: int | None = None) -> tuple[StateDict, TrainResult]:
        """Train from `weights`; return the trained weights (fresh tensors) and the result.

        A trainer that also takes `steps` (keyword, partial work finer than an
        epoch) is called `fit(weights, steps=k)` when a straggler's deadline
        allows only k steps; one without it then gets `fit(weights, 1)`.
        """
        ...

    def evaluate(self, weights: StateDict) -> Evaluation:
        """Loss and accuracy of `weights` on this trainer's evaluation data."""
        ...


# -- behaviour -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkPlan:
    """What a client does with one task.

    Attributes:
        compute_s: how long the work takes in clock seconds (None: as long as
            training really takes).
        epochs: local epochs to run (None: the configured work).
        steps: or this many SGD steps (partial work finer than an epoch: what
            fits the deadline); None: `epochs` says.
        drop: the client never answers this task (it went offline or failed).
        reason: why it drops (for the event log).
        straggler: the behaviour drew this task as a straggler's (event log).
    """

    compute_s: float | None = None
    epochs: int | None = None
    steps: int | None = None
    drop: bool = False
    reason: str = ""
    straggler: bool = False


class ClientBehaviour(Protocol):
    """Decides each task's `WorkPlan`; must draw randomness only from its own seeded generator.

    The node injects one into each client and peer (the simulation layer builds
    it from the topology's straggler and availability models). In a simulation
    the planned compute time is waited on the virtual clock; in a real run the
    client waits whatever the plan adds to the real training time.
    """

    def plan(self, now: float, num_samples: int, epochs: int | None, deadline_s: float | None) -> WorkPlan:
        """The plan for a task received at clock time `now`.

        Args:
            num_samples: the client's training samples.
            epochs: epochs the task asks for (None: the client's configured work).
            deadline_s: time the parent allows for the task; a client that would
                take longer does only the work that fits, at least one step
                (FedProx's variable local work).
        """
        ...


async def take_planned_time(clock: Clock, started: float, plan: WorkPlan) -> float:
    """Wait until the plan's compute time has passed since `started` (clock time);
    return the compute time: the planned one, or what really passed if it plans none."""
    elapsed = clock.now() - started
    if plan.compute_s is None:
        return elapsed
    if plan.compute_s > elapsed:
        await clock.sleep(plan.compute_s - elapsed)
    return plan.compute_s


class AsFastAsPossible:
    """The default behaviour: no added time, never drops."""

    def plan(self, now: float, num_samples: int, epochs: int | None, deadline_s: float | None) -> WorkPlan:
        return WorkPlan()


# -- stopping ------------------------------------------------------------------


class StopConfig(BaseModel):
    """The stopping rule: stop at the first of these that holds (at least one must be set).

    A server applies it at each new global model version, the gossip monitor
    at each scoring of the peers' average model.

    Attributes:
        max_versions: global model versions (one per FedAvg round, per FedAsync
            update, per FedBuff buffer flush).
        max_rounds: synchronous rounds (FedAvg, HierFAVG); the same as versions there.
        max_time_s: clock seconds since the server started (simulated time in a sim).
        target_accuracy: test accuracy in [0, 1] reached by an evaluation.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_versions: int | None = Field(default=None, gt=0)
    max_rounds: int | None = Field(default=None, gt=0)
    max_time_s: float | None = Field(default=None, gt=0)
    target_accuracy: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _at_least_one(self) -> StopConfig:
        if all(
            v is None for v in (self.max_versions, self.max_rounds, self.max_time_s, self.target_accuracy)
        ):
            raise ValueError("set at least one of max_versions, max_rounds, max_time_s, target_accuracy")
        return self

    def reason(self, version: int, elapsed_s: float, accuracy: float | None) -> str | None:
        """Why the run should stop now, or None to go on."""
        limit = self.max_versions or self.max_rounds
        if accuracy is not None and self.target_accuracy is not None and accuracy >= self.target_accuracy:
            return "target_accuracy"
        if limit is not None and version >= limit:
            return "max_versions" if self.max_versions else "max_rounds"
        if self.max_time_s is not None and elapsed_s >= self.max_time_s:
            return "max_time_s"
        return None
