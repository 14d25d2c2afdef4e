"""`TrainerClient`: trains on each task from its parent and replies with an update."""

from __future__ import annotations

from actors.actor import Actor, handler
from actors.client.trainer import Trainer
from actors.codec import tree_nbytes
from actors.protocol import Evaluate, Evaluation, Join, Leave, Task, Update
from actors.statedict import sub


class TrainerClient(Actor):
    """A federated client: `Join` its parent, then answer every `Task` with an `Update`.

    Args:
        trainer: local data, model and training settings (injected by the node).
        parent: name of the server or scheduler it reports to.
    """

    def __init__(self, trainer: Trainer, parent: str) -> None:
        self.trainer = trainer
        self.parent = parent
        self.tasks_done = 0

    async def on_start(self) -> None:
        await self.send(self.parent, Join(self.trainer.num_samples))

    @handler
    async def on_task(self, task: Task, sender: str) -> None:
        started = self.clock.now()
        weights, result = await self.compute(self.trainer.fit, task.weights, task.epochs)
        compute_s = self.clock.now() - started
        payload = sub(weights, task.weights) if task.want_delta else weights
        self.tasks_done += 1
        self.metrics.record(
            "task_trained",
            task=task.task_id,
            version=task.version,
            loss=result.mean_loss,
            compute_s=compute_s,
            bytes=tree_nbytes(payload),
        )
        update = Update(
            task_id=task.task_id,
            base_version=task.version,
            weights=payload,
            is_delta=task.want_delta,
            num_samples=result.num_samples,
            loss=result.mean_loss,
            compute_s=compute_s,
        )
        await self.send(sender, update)

    @handler
    async def on_evaluate(self, msg: Evaluate, sender: str) -> Evaluation:
        result = await self.compute(self.trainer.evaluate, msg.weights)
        return Evaluation(result.loss, result.accuracy, result.num_samples)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        self.log.debug("client_left", reason=msg.reason, tasks=self.tasks_done)
