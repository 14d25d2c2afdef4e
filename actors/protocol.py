"""The federated-learning protocol every role speaks.

A parent (server or scheduler) and its children (clients or schedulers):

    child  -> parent   Join(num_samples)            once, when the child starts
    parent -> child    Task(task_id, version, weights, want_delta, epochs)
    child  -> parent   Update(task_id, base_version, weights or delta, ...)
    parent -> child    Cancel(task_id)              the round closed without it: stop
    parent -> child    Evaluate(weights)  (ask)  -> Evaluation
    parent -> child    Leave()                      the run is over for the child

A relay scheduler forwards without aggregating: it wraps what its children
send up, and unwraps what comes down, so the parent treats them as its own:

    relay  -> parent   Relayed(child, Join | Update)
    parent -> relay    Relayed(child, Task | Leave)

Gossip peers (no parent) exchange models with their neighbours and report
to the run's monitor, which scores the average model:

    peer -> neighbour  Gossip(round, weights)        D-PSGD: this round's model
    peer -> neighbour  PushPull(weights) (ask) -> PushPull   pairwise averaging
    peer -> monitor    PeerReport(round, steps, weights)
    monitor -> peer    Snapshot() (ask) -> PeerReport
    monitor -> peer    Leave()

Every node also reports to the run's recorder:

    any    -> recorder Events(records)              batched event-log lines
    server -> recorder Done(reason, version)        the stopping rule fired
"""

from __future__ import annotations

from typing import Any

from actors.compression.base import Compressed
from actors.messages import Message, StateDict, message


@message("fl.join")
class Join(Message):
    """A child announces itself and its training data size."""

    num_samples: int
    capabilities: dict[str, Any] | None = None


@message("fl.task")
class Task(Message):
    """Train from `weights` (model `version`) and reply with an `Update`.

    Attributes:
        task_id: parent-unique id, echoed by the update.
        version: the global model version the weights are.
        weights: the model's state_dict.
        want_delta: reply with `trained − weights` instead of the trained weights.
        epochs: local epochs for this task (None: the client's configured work).
        deadline_s: time the parent allows; a slower client does the epochs
            that fit and returns that partial work (None: no deadline).
        rounds: local rounds: the client repeats its work this many times,
            each from the last one's weights, before it replies (HierFAVG's κ1).
    """

    task_id: int
    version: int
    weights: StateDict
    want_delta: bool = False
    epochs: int | None = None
    deadline_s: float | None = None
    rounds: int = 1


@message("fl.update")
class Update(Message):
    """The result of a task.

    Attributes:
        task_id: the task it answers.
        base_version: the version the client trained from.
        weights: trained weights, or their delta from the task's weights.
        is_delta: which of the two `weights` holds.
        num_samples: samples the client trained on (its aggregation weight).
        loss: mean training loss over the task.
        compute_s: the client's compute time for the task, in clock seconds.
    """

    task_id: int
    base_version: int
    weights: StateDict
    is_delta: bool
    num_samples: int
    loss: float
    compute_s: float


@message("fl.cancel")
class Cancel(Message):
    """The parent no longer wants task `task_id` (its round closed without the
    update): the child stops that work, or skips it if not started yet."""

    task_id: int


@message("fl.evaluate")
class Evaluate(Message):
    """Ask a child to evaluate `weights` on its local data."""

    weights: StateDict


@message("fl.evaluation")
class Evaluation(Message):
    """Loss and accuracy on `num_samples` samples."""

    loss: float
    accuracy: float
    num_samples: int


@message("fl.leave")
class Leave(Message):
    """The run is over (parent -> child), or a child leaves (child -> parent)."""

    reason: str = ""


@message("fl.relayed")
class Relayed(Message):
    """A protocol message of `child`, carried through a relay scheduler.

    Attributes:
        child: the child it comes from (upward) or goes to (downward).
        body: the carried message, decoded and checked with the `Relayed` itself
            (on the wire: `body_kind` and `body`, its fields). A `Compressed` one
            (a task or update on a compressed edge) is expanded by the node
            before any handler sees it.
    """

    child: str
    body: Join | Update | Task | Leave | Cancel | Compressed


@message("gossip.model")
class Gossip(Message):
    """A peer's model for gossip step `round` (D-PSGD: one per round, or
    `gossip_steps` per round)."""

    round: int
    weights: StateDict


@message("gossip.push_pull")
class PushPull(Message):
    """Pairwise gossip: the asker's model; the reply carries the answerer's."""

    weights: StateDict


@message("gossip.snapshot")
class Snapshot(Message):
    """The monitor asks a peer for its current model."""


@message("gossip.report")
class PeerReport(Message):
    """A peer's model, for the monitor.

    Attributes:
        round: the peer's completed rounds (D-PSGD) or local steps (pairwise).
        steps: local training tasks done.
        weights: its model.
    """

    round: int
    steps: int
    weights: StateDict


@message("run.events")
class Events(Message):
    """Event-log records, batched by a node's reporter."""

    records: list[dict[str, Any]]


@message("run.done")
class Done(Message):
    """The stopping rule fired: the run is over."""

    reason: str
    version: int
