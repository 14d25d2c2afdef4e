"""`TrainerClient`: trains on each task from its parent and replies with an update.

Tasks are trained one at a time, in the order they came, each in a task of
its own beside the mailbox, so that a `Cancel` from the parent (its round
closed without this client) stops that stale work at once and the client is
free for the next round (`task_cancelled` in the event log).

With heartbeats (see `actors.liveness`) it watches its parent; when the parent
falls silent it joins its next fallback (`parent_lost` in the event log), and
an update trained for the lost parent is discarded.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence

from actors.actor import Actor, handler
from actors.codec import tree_nbytes
from actors.errors import FedActorsError
from actors.liveness import Heartbeats, Liveness, ParentLink
from actors.protocol import Cancel, Evaluate, Evaluation, Join, Leave, Task, Update
from actors.statedict import StateDict, sub
from actors.training import (
    AsFastAsPossible,
    ClientBehaviour,
    Trainer,
    TrainResult,
    WorkPlan,
    take_planned_time,
)


def _fit(
    trainer: Trainer, weights: StateDict, epochs: int | None, steps: int | None
) -> tuple[StateDict, TrainResult]:
    """`trainer.fit` for whole epochs, or for `steps` SGD steps of partial work
    (a trainer that cannot count steps does one epoch instead)."""
    if steps is None:
        return trainer.fit(weights, epochs)
    if "steps" in inspect.signature(trainer.fit).parameters:
        return trainer.fit(weights, steps=steps)  # type: ignore[call-arg]  # its fit takes steps (checked)
    return trainer.fit(weights, 1)


def _share_of_deadline(deadline_s: float | None, spent_s: float, rounds_left: int) -> float | None:
    """The time one local round may take so that all `rounds_left` still fit the
    task's deadline (HierFAVG's κ1 rounds share it equally; None: no deadline)."""
    if deadline_s is None:
        return None
    return max(0.0, deadline_s - spent_s) / rounds_left


def _uncancel() -> int:
    task = asyncio.current_task()
    assert task is not None  # called from `_work`
    return task.uncancel()


class _Work:
    """What a task's local rounds have done so far."""

    def __init__(self, epochs: int | None) -> None:
        self.weights: StateDict | None = None
        self.epochs = epochs  # of the last local round
        self.losses: list[float] = []
        self.num_samples = 0
        self.compute_s = 0.0
        self.steps = 0
        self.straggler = False

    def add(
        self, weights: StateDict, result: TrainResult, epochs: int | None, plan: WorkPlan, compute_s: float
    ) -> None:
        self.weights, self.epochs = weights, epochs
        self.losses.append(result.mean_loss)
        self.num_samples = result.num_samples
        self.steps += result.num_steps
        self.compute_s += compute_s
        self.straggler = self.straggler or plan.straggler

    def update(self, task: Task) -> Update:
        assert self.weights is not None  # at least one local round ran
        payload = sub(self.weights, task.weights) if task.want_delta else self.weights
        loss = sum(self.losses) / len(self.losses)
        return Update(
            task.task_id, task.version, payload, task.want_delta, self.num_samples, loss, self.compute_s
        )


class TrainerClient(Actor):
    """A federated client: `Join` its parent, then answer every `Task` with an `Update`.

    Args:
        trainer: local data, model and training settings (injected by the node).
        parent: name of the server or scheduler it reports to.
        behaviour: compute time and availability (default: as fast as possible, always there).
        fallbacks: parents to join in turn if the parent is lost.
        heartbeats: watch the parent (None: never; it is trusted to live).
    """

    def __init__(
        self,
        trainer: Trainer,
        parent: str,
        behaviour: ClientBehaviour | None = None,
        *,
        fallbacks: Sequence[str] = (),
        heartbeats: Heartbeats | None = None,
    ) -> None:
        self.trainer = trainer
        self.link = ParentLink(parent, fallbacks)
        self.behaviour: ClientBehaviour = behaviour or AsFastAsPossible()
        self.tasks_done = 0
        self._tasks: asyncio.Queue[tuple[Task, str]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None  # runs `_work`
        self._current: int | None = None  # the task id in training
        self._cancel_asked = False  # `_worker` was cancelled to stop `_current`
        self._queued: set[int] = set()  # task ids waiting for the one in training
        self._cancelled: set[int] = set()  # queued tasks the parent no longer wants
        self.liveness = Liveness(self, heartbeats, self._parent_lost) if heartbeats else None

    @property
    def parent(self) -> str:
        return self.link.parent

    async def on_start(self) -> None:
        self._worker = self.start_task(self._work(), "work")
        await self._join()

    async def _join(self) -> None:
        if self.liveness is not None:
            self.liveness.watch(self.parent)
        await self.send(self.parent, Join(self.trainer.num_samples))

    async def _parent_lost(self, parent: str) -> None:
        self.metrics.record("parent_lost", parent=parent, joins=self.link.lost(parent))
        try:
            await self._join()
        except FedActorsError as exc:  # still unreachable: the heartbeats try again
            self.log.warning("join_not_sent", parent=self.parent, reason=str(exc))

    @handler
    async def on_task(self, task: Task, sender: str) -> None:
        self._queued.add(task.task_id)
        self._tasks.put_nowait((task, sender))

    @handler
    async def on_cancel(self, msg: Cancel, sender: str) -> None:
        if self._current == msg.task_id and self._worker is not None:
            if not self._cancel_asked:
                self._cancel_asked = True
                self._worker.cancel()
        elif msg.task_id in self._queued:
            self._cancelled.add(msg.task_id)
        else:
            return  # done already: its update is on its way and will be dropped as late
        self.metrics.record("task_cancelled", task=msg.task_id)

    async def _work(self) -> None:
        """Tasks one at a time; `Cancel` cancels this loop's task and the loop goes on.

        A task runs inline, not in an asyncio task of its own (whose creation
        and `asyncio.wait` cost more than a small model's training step); the
        `sleep(0)`s stand where that task's first step and its completion's
        callbacks were, so every actor runs in the same order as with it.
        """
        while True:
            task, sender = await self._tasks.get()
            self._queued.discard(task.task_id)
            if task.task_id in self._cancelled:
                self._cancelled.discard(task.task_id)
                continue
            self._current = task.task_id
            try:
                await asyncio.sleep(0)
                await self._do_task(task, sender)
            except asyncio.CancelledError:
                if not self._cancel_asked or _uncancel() > 0:
                    raise  # the actor is stopping, not (only) this task
            finally:
                self._current, self._cancel_asked = None, False
            await asyncio.sleep(0)
            await asyncio.sleep(0)

    async def _do_task(self, task: Task, sender: str) -> None:
        work = _Work(task.epochs)
        for done in range(max(1, task.rounds)):
            if not await self._local_round(task, work, max(1, task.rounds) - done):
                return
        update = work.update(task)
        self.tasks_done += 1
        self.metrics.record(
            "task_trained", task=task.task_id, version=task.version, epochs=work.epochs, steps=work.steps,
            rounds=task.rounds, loss=update.loss, compute_s=update.compute_s,
            bytes=tree_nbytes(update.weights), straggler=work.straggler,
        )  # fmt: skip
        if self.liveness is not None and sender != self.parent:
            self.metrics.record("update_discarded", task=task.task_id, parent=sender, reason="parent_lost")
            return
        try:
            await self.send(sender, update)
        except FedActorsError as exc:
            self.log.warning("update_not_sent", parent=sender, task=task.task_id, reason=str(exc))

    async def _local_round(self, task: Task, work: _Work, rounds_left: int) -> bool:
        """One of the task's κ1 local rounds, in its share of the deadline; False: dropped."""
        now = self.clock.now()
        budget_s = _share_of_deadline(task.deadline_s, work.compute_s, rounds_left)
        plan = self.behaviour.plan(now, self.trainer.num_samples, task.epochs, budget_s)
        if plan.drop:
            self.metrics.record("task_dropped", task=task.task_id, version=task.version, reason=plan.reason)
            return False
        epochs = plan.epochs if plan.epochs is not None else task.epochs
        weights = task.weights if work.weights is None else work.weights
        trained, result = await self.compute(_fit, self.trainer, weights, epochs, plan.steps)
        work.add(trained, result, epochs, plan, await take_planned_time(self.clock, now, plan))
        return True

    @handler
    async def on_evaluate(self, msg: Evaluate, sender: str) -> Evaluation:
        result = await self.compute(self.trainer.evaluate, msg.weights)
        return Evaluation(result.loss, result.accuracy, result.num_samples)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        if self.liveness is not None:
            self.liveness.unwatch(sender)  # the run is over: a silent parent is no loss now
        self.log.debug("client_left", reason=msg.reason, tasks=self.tasks_done)
