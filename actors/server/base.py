"""What every server shares: the global model, its version, the clients, evaluation, stopping.

Algorithms (FedAvg, FedAsync, FedBuff) subclass `ServerActor` and decide only
when to hand out tasks and how an update changes the model.

Events recorded (the run's event log): `client_joined`, `update_applied`
(client, staleness, loss, bytes), `update_dropped` (client, reason),
`model_updated` (version), `evaluated` (version, accuracy, loss) and
`run_finished` (reason, version).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass

from actors.actor import Actor, handler
from actors.client.local_sgd import Evaluation
from actors.codec import tree_nbytes
from actors.errors import FedActorsError
from actors.protocol import Done, Join, Leave, Task, Update
from actors.server.stop import StopConfig
from actors.statedict import StateDict, StateDictMismatchError, add, check_same_keys_and_shapes

Evaluator = Callable[[StateDict], Evaluation]


@dataclass(frozen=True, slots=True)
class ServerDeps:
    """What the node injects into a server.

    Attributes:
        evaluator: scores the global model on the held-out test set (None: never).
        stop: the stopping rule.
        seed: seeds the server's own random choices (client sampling).
        recorder: actor told `Done` when the run ends (None: nobody).
        eval_every: evaluate the global model every this many versions.
    """

    evaluator: Evaluator | None
    stop: StopConfig
    seed: int = 0
    recorder: str | None = None
    eval_every: int = 1


class ServerActor(Actor):
    """Shared server bookkeeping; see the module docstring."""

    def __init__(self, initial: StateDict, deps: ServerDeps) -> None:
        self.params = initial
        self.version = 0
        self.deps = deps
        self.rng = random.Random(deps.seed)
        self.clients: dict[str, int] = {}
        self.in_flight: dict[str, int] = {}
        self.done = False
        self.dropped = 0
        self.last_accuracy: float | None = None
        self._task_ids = itertools.count(1)
        self._started_at = 0.0

    # -- hooks for the algorithms -------------------------------------------------

    async def client_joined(self, client: str) -> None:
        """A client joined (override to hand it work)."""

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        """A valid update for the client's current task; `weights` are full weights
        if the update carried weights, else the delta."""

    async def task_lost(self, client: str) -> None:
        """`client` did not answer its task within the task timeout (override to re-issue work)."""

    # -- handlers ----------------------------------------------------------------

    async def on_start(self) -> None:
        self._started_at = self.clock.now()
        await self.evaluate()

    @handler
    async def on_join(self, msg: Join, sender: str) -> None:
        self.clients[sender] = msg.num_samples
        self.metrics.record("client_joined", client=sender, num_samples=msg.num_samples)
        if not self.done:
            await self.client_joined(sender)

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        if self.done:
            return  # the run is over: late updates are neither applied nor counted
        reason = self._rejection(sender, msg)
        if reason is not None:
            self.drop(sender, msg, reason)
            return
        del self.in_flight[sender]
        await self.update_arrived(sender, msg, msg.weights)

    # -- what algorithms call ----------------------------------------------------

    async def send_task(
        self,
        client: str,
        *,
        want_delta: bool,
        timeout_s: float | None = None,
        deadline_s: float | None = None,
    ) -> None:
        """Hand `client` the current model to train.

        Args:
            timeout_s: if no update comes within this, the task is lost: recorded
                as `task_expired` and `task_lost` is called.
            deadline_s: passed to the client (partial work that fits in it).
        """
        task_id = next(self._task_ids)
        self.in_flight[client] = task_id
        try:
            await self.send(client, Task(task_id, self.version, self.params, want_delta, None, deadline_s))
        except FedActorsError as exc:
            del self.in_flight[client]
            self.log.warning("task_not_sent", client=client, reason=str(exc))
            return
        if timeout_s is not None:
            self.start_task(self._expire(client, task_id, timeout_s), f"expire-{task_id}")

    async def _expire(self, client: str, task_id: int, timeout_s: float) -> None:
        await self.clock.sleep(timeout_s)
        if self.done or self.in_flight.get(client) != task_id:
            return
        del self.in_flight[client]
        self.metrics.record("task_expired", client=client, task=task_id, version=self.version)
        await self.task_lost(client)

    def has_free_slot(self, concurrency: int | None) -> bool:
        """Fewer than `concurrency` clients are training (None: no limit)."""
        return concurrency is None or len(self.in_flight) < concurrency

    def next_client(self, client: str, concurrency: int | None) -> str:
        """Who trains next after `client` reported: itself, or under a concurrency
        limit a random idle client (seeded), so that every client gets turns."""
        if concurrency is None:
            return client
        idle = sorted(c for c in self.clients if c not in self.in_flight)
        return self.rng.choice(idle) if idle else client

    def staleness(self, update: Update) -> int:
        """τ: versions the global model moved since the client's base version."""
        return self.version - update.base_version

    def full_weights(self, update: Update) -> StateDict:
        """The client's trained weights, whether it sent them or their delta.

        A delta is relative to the version the client trained from; this is
        exact only while that is the current version, which the synchronous
        algorithms guarantee and the asynchronous ones do not need.
        """
        return add(self.params, update.weights) if update.is_delta else update.weights

    def record_applied(self, client: str, update: Update, staleness: int, **fields: object) -> None:
        self.metrics.record(
            "update_applied",
            client=client,
            version=self.version,
            staleness=staleness,
            loss=update.loss,
            num_samples=update.num_samples,
            compute_s=update.compute_s,
            bytes=tree_nbytes(update.weights),
            **fields,
        )

    def drop(self, client: str, update: Update, reason: str) -> None:
        self.dropped += 1
        self.metrics.record(
            "update_dropped",
            client=client,
            version=self.version,
            base_version=update.base_version,
            reason=reason,
        )

    async def new_version(self, params: StateDict, contributors: int) -> None:
        """Install `params` as the next version, evaluate when due, and stop when the rule says."""
        self.params = params
        self.version += 1
        self.metrics.record("model_updated", version=self.version, contributors=contributors)
        if self.version % self.deps.eval_every == 0:
            await self.evaluate()
        reason = self.deps.stop.reason(self.version, self.clock.now() - self._started_at, self.last_accuracy)
        if reason is not None:
            await self.finish(reason)

    async def evaluate(self) -> None:
        if self.deps.evaluator is None:
            return
        result = await self.compute(self.deps.evaluator, self.params)
        self.last_accuracy = result.accuracy
        self.metrics.record("evaluated", version=self.version, accuracy=result.accuracy, loss=result.loss)

    async def finish(self, reason: str) -> None:
        """End the run: tell the recorder and every client."""
        if self.done:
            return
        self.done = True
        self.metrics.record("run_finished", version=self.version, reason=reason, dropped=self.dropped)
        if self.deps.recorder is not None:
            await self.send(self.deps.recorder, Done(reason, self.version))
        for client in self.clients:
            try:
                await self.send(client, Leave(reason))
            except FedActorsError as exc:
                self.log.debug("leave_not_sent", client=client, reason=str(exc))

    def _rejection(self, sender: str, update: Update) -> str | None:
        if self.in_flight.get(sender) != update.task_id:
            return "unknown_task"
        if update.base_version > self.version:
            return "future_version"
        if not isinstance(update.weights, dict):
            return "not_a_state_dict"
        try:
            check_same_keys_and_shapes(self.params, update.weights, who=f"update from {sender!r}")
        except StateDictMismatchError as exc:
            self.log.warning("update_rejected", client=sender, reason=str(exc))
            return "shape_mismatch"
        return None
