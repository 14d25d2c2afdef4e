"""How a client behaves beyond training: how long work takes, whether it shows up.

The node injects a `ClientBehaviour` (the simulation layer builds it from the
topology's straggler and availability models). The client asks it for a
`WorkPlan` for each task and follows it: in a simulation the planned compute
time is waited on the virtual clock; in a real run the client waits whatever
the plan adds to the real training time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from actors.clock import Clock


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
    """Decides each task's `WorkPlan`; must draw randomness only from its own seeded generator."""

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
    """The default: no added time, never drops."""

    def plan(self, now: float, num_samples: int, epochs: int | None, deadline_s: float | None) -> WorkPlan:
        return WorkPlan()
