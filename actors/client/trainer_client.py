"""`TrainerClient`: trains on each task from its parent and replies with an update.

With heartbeats (see `actors.liveness`) it watches its parent; when the parent
falls silent it joins its next fallback (`parent_lost` in the event log), and
an update trained for the lost parent is discarded.
"""

from __future__ import annotations

from collections.abc import Sequence

from actors.actor import Actor, handler
from actors.client.behaviour import AsFastAsPossible, ClientBehaviour, take_planned_time
from actors.client.trainer import Trainer
from actors.codec import tree_nbytes
from actors.errors import FedActorsError
from actors.liveness import Heartbeats, Liveness, ParentLink
from actors.protocol import Evaluate, Evaluation, Join, Leave, Task, Update
from actors.statedict import sub


def _share_of_deadline(deadline_s: float | None, spent_s: float, rounds_left: int) -> float | None:
    """The time one local round may take so that all `rounds_left` still fit the
    task's deadline (HierFAVG's κ1 rounds share it equally; None: no deadline)."""
    if deadline_s is None:
        return None
    return max(0.0, deadline_s - spent_s) / rounds_left


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
        self.liveness = Liveness(self, heartbeats, self._parent_lost) if heartbeats else None

    @property
    def parent(self) -> str:
        return self.link.parent

    async def on_start(self) -> None:
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
        weights, epochs, losses = task.weights, task.epochs, []
        num_samples, compute_s, rounds = 0, 0.0, max(1, task.rounds)
        for done in range(rounds):
            now = self.clock.now()
            budget_s = _share_of_deadline(task.deadline_s, compute_s, rounds - done)
            plan = self.behaviour.plan(now, self.trainer.num_samples, task.epochs, budget_s)
            if plan.drop:
                self.metrics.record(
                    "task_dropped", task=task.task_id, version=task.version, reason=plan.reason
                )
                return
            epochs = plan.epochs if plan.epochs is not None else task.epochs
            weights, result = await self.compute(self.trainer.fit, weights, epochs)
            compute_s += await take_planned_time(self.clock, now, plan)
            losses.append(result.mean_loss)
            num_samples = result.num_samples
        payload = sub(weights, task.weights) if task.want_delta else weights
        loss = sum(losses) / len(losses)
        self.tasks_done += 1
        self.metrics.record(
            "task_trained",
            task=task.task_id,
            version=task.version,
            epochs=epochs,
            rounds=task.rounds,
            loss=loss,
            compute_s=compute_s,
            bytes=tree_nbytes(payload),
        )
        if self.liveness is not None and sender != self.parent:
            self.metrics.record("update_discarded", task=task.task_id, parent=sender, reason="parent_lost")
            return
        update = Update(
            task_id=task.task_id,
            base_version=task.version,
            weights=payload,
            is_delta=task.want_delta,
            num_samples=num_samples,
            loss=loss,
            compute_s=compute_s,
        )
        try:
            await self.send(sender, update)
        except FedActorsError as exc:
            self.log.warning("update_not_sent", parent=sender, task=task.task_id, reason=str(exc))

    @handler
    async def on_evaluate(self, msg: Evaluate, sender: str) -> Evaluation:
        result = await self.compute(self.trainer.evaluate, msg.weights)
        return Evaluation(result.loss, result.accuracy, result.num_samples)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        if self.liveness is not None:
            self.liveness.unwatch(sender)  # the run is over: a silent parent is no loss now
        self.log.debug("client_left", reason=msg.reason, tasks=self.tasks_done)
