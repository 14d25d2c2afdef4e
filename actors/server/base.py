"""What every server shares: the global model, its version, the clients, evaluation, stopping.

Algorithms (FedAvg, FedAsync, FedBuff) subclass `ServerActor` and decide only
when to hand out tasks and how an update changes the model.

Events recorded (the run's event log): `client_joined`, `client_lost`
(client, reason, whether a task was lost with it), `update_applied`
(client, staleness, loss, bytes), `update_dropped` (client, reason),
`model_updated` (version), `evaluated` (version, accuracy, loss) and
`run_finished` (reason, version).

With heartbeats (`ServerDeps.heartbeats`, see `actors.liveness`) the server
watches each child (a relay for the children behind it); a child that falls
silent, leaves, or is reported lost by its relay is forgotten, and the task it
held goes to `task_lost`. A child that joins again is taken back.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from actors.actor import Actor, handler
from actors.codec import tree_nbytes
from actors.configs.servers import ValidationConfig
from actors.errors import FedActorsError
from actors.liveness import Liveness
from actors.protocol import Cancel, Done, Join, Leave, Relayed, Task, Update
from actors.relays import relay_rejection
from actors.server.checkpoint import Checkpoints
from actors.server.deps import GroupOwner, ServerDeps
from actors.server.idle import Roster
from actors.server.state_checks import accuracy, client_samples, counter, elapsed_seconds, rng_state
from actors.server.validation import UpdateValidator
from actors.statedict import StateDict, add, checked_model
from actors.training import Evaluator

__all__ = ["Evaluator", "ServerActor", "ServerDeps"]  # `Evaluator`, `ServerDeps`: re-exported


class ServerActor(Actor):
    """Shared server bookkeeping; see the module docstring."""

    def __init__(self, initial: StateDict, deps: ServerDeps) -> None:
        self.params = initial
        self.version = 0
        self.deps = deps
        self.rng = random.Random(deps.seed)
        self._roster = Roster()  # the idle clients, kept as these two change (see `next_client`)
        self.clients: dict[str, int] = self._roster.clients
        self.in_flight: dict[str, int] = self._roster.in_flight
        self.done = False
        self.dropped = 0
        self.last_accuracy: float | None = None
        self.via: dict[str, str] = {}  # child -> the relay its messages come through
        self._task_ids = itertools.count(1)
        self._started_at = 0.0
        self._resumed_elapsed_s: float | None = None
        self.owner: GroupOwner | None = None  # the scheduler that has it for its group (`deps`)
        self.checkpoints = Checkpoints(deps.checkpoint)  # when its `state()` goes to disk
        self.liveness = Liveness(self, deps.heartbeats, self._lost) if deps.heartbeats else None

    # -- hooks for the algorithms -------------------------------------------------

    async def client_joined(self, client: str) -> None:
        """A client joined (override to hand it work)."""

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        """A valid update for the client's current task; `weights` are full weights
        if the update carried weights, else the delta."""

    async def task_lost(self, client: str) -> None:
        """`client`'s task will not be answered: it timed out, or the client was lost
        (no longer in `clients` then). Override to re-issue the work."""

    # -- handlers ----------------------------------------------------------------

    async def on_start(self) -> None:
        self._started_at = self.clock.now()
        if self._resumed_elapsed_s is not None:  # run time counts the time before the crash too
            self._started_at -= self._resumed_elapsed_s
            self.metrics.record("run_resumed", version=self.version, elapsed_s=self._resumed_elapsed_s)
        if self.liveness is not None:
            for client in sorted(self.clients):  # restored: those that never come back are lost
                self.liveness.watch(client)
        await self.evaluate()

    @handler
    async def on_join(self, msg: Join, sender: str) -> None:
        await self._join(msg, sender, None)

    async def _join(self, msg: Join, sender: str, relay: str | None) -> None:
        refused = self.validator.sender_rejection(sender)
        if refused is not None:  # not a child of ours: neither a client nor given work
            self.validator.report(self.log, sender, refused)
            self.dropped += 1
            self.metrics.record(
                "update_dropped", client=sender, version=self.version, reason=refused.reason, kind=msg.kind
            )
            return
        if relay is None:
            self.via.pop(sender, None)  # it may have come through a relay before
        else:
            self.via[sender] = relay
        if self.liveness is not None:
            self.liveness.watch(relay or sender)
        self.clients[sender] = msg.num_samples
        self.metrics.record("client_joined", client=sender, num_samples=msg.num_samples)
        if not self.done:
            await (self.client_joined(sender) if self.owner is None else self.owner.child_joined(sender))

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        """A child leaves the run (its work is lost with it)."""
        if sender in self.clients and sender not in self.via:
            await self.lose_client(sender, msg.reason or "left")

    async def _lost(self, peer: str) -> None:  # heartbeats: the owner decides first
        await (self.peer_lost(peer) if self.owner is None else self.owner.peer_lost(peer))

    async def peer_lost(self, peer: str) -> None:
        """Heartbeats: `peer` fell silent (a client, or a relay with the clients behind it)."""
        behind = sorted(c for c, relay in self.via.items() if relay == peer)
        for client in behind:
            await self.lose_client(client, "relay_lost")
        if peer in self.clients and peer not in self.via:
            await self.lose_client(peer, "silent")

    async def lose_client(self, client: str, reason: str) -> None:
        """Forget `client`; the task it held (if any) goes to `task_lost`."""
        if self.clients.pop(client, None) is None:
            return
        self.via.pop(client, None)
        if self.liveness is not None:
            self.liveness.unwatch(client)
        task = self.in_flight.pop(client, None)
        self.metrics.record("client_lost", client=client, reason=reason, task=task, version=self.version)
        if task is not None and not self.done:
            await self.task_lost(client)

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        if self.done:
            return  # the run is over: late updates are neither applied nor counted
        reason = self._rejection(sender, msg)
        if reason is not None:
            self.drop(sender, msg, reason)
            return
        del self.in_flight[sender]
        try:
            arrived = self.update_arrived if self.owner is None else self.owner.update_arrived
            await arrived(sender, msg, msg.weights)
        except Exception as exc:  # the client's slot is freed already: going on would stall the run
            self.log.exception("update_failed", client=sender)
            self.context.fail(self.name, "update_arrived", exc)

    @handler
    async def on_relayed(self, msg: Relayed, sender: str) -> None:
        """A child's `Join` or `Update` that came through relay `sender`: handled as the child's."""
        refused = relay_rejection(self.deps.relays, sender, msg.child)
        if refused is not None:  # a stranger posing as a relay, or a relay speaking for another's child
            self.validator.report(self.log, msg.child, refused)
            self.dropped += 1
            self.metrics.record(
                "update_dropped", client=msg.child, relay=sender, version=self.version, reason=refused.reason
            )
            return
        inner = msg.body  # decoded and checked with the Relayed
        if isinstance(inner, Join):
            await self._join(inner, msg.child, sender)
        elif isinstance(inner, Update) and self.via.get(msg.child) == sender:
            await self.on_update(inner, msg.child)
        elif isinstance(inner, Leave) and self.via.get(msg.child) == sender:
            await self.lose_client(msg.child, inner.reason or "left")
        else:
            self.log.warning("relayed_message_dropped", relay=sender, child=msg.child, kind=inner.kind)

    async def send_child(self, child: str, msg: Task | Leave | Cancel) -> None:
        """Send `msg` to `child`, through its relay if it joined through one."""
        relay = self.via.get(child)
        if relay is None:
            await self.send(child, msg)
        else:
            await self.send(relay, Relayed(child, msg))

    # -- what algorithms call ----------------------------------------------------

    async def send_task(
        self,
        client: str,
        *,
        want_delta: bool,
        timeout_s: float | None = None,
        deadline_s: float | None = None,
        rounds: int = 1,
    ) -> None:
        """Hand `client` the current model to train.

        Args:
            timeout_s: if no update comes within this, the task is lost: recorded
                as `task_expired` and `task_lost` is called.
            deadline_s: passed to the client (partial work that fits in it).
            rounds: local rounds the client does before it replies.
        """
        task_id = next(self._task_ids)
        self.in_flight[client] = task_id
        try:
            task = Task(task_id, self.version, self.params, want_delta, None, deadline_s, rounds)
            await self.send_child(client, task)
        except FedActorsError as exc:  # as good as lost; it joins again if it lives
            self.log.warning("task_not_sent", client=client, reason=str(exc))
            await self.lose_client(client, "unreachable")
            return
        if timeout_s is not None:
            self.start_task(self._expire(client, task_id, timeout_s), f"expire-{task_id}")

    async def _expire(self, client: str, task_id: int, timeout_s: float) -> None:
        await self.clock.sleep(timeout_s)
        if self.done or self.in_flight.get(client) != task_id:
            return
        del self.in_flight[client]
        self.validator.expired(task_id)
        self.metrics.record("task_expired", client=client, task=task_id, version=self.version)
        await self.task_lost(client)

    def has_free_slot(self, concurrency: int | None) -> bool:
        """Fewer than `concurrency` clients are training (None: no limit)."""
        return concurrency is None or len(self.in_flight) < concurrency

    def next_client(self, client: str, concurrency: int | None) -> str | None:
        """Who trains next after `client` reported or lost its task: itself, or under
        a concurrency limit a random idle client (seeded), so that every client gets
        turns; a lost client's work goes to an idle one (None: nobody is idle).

        The idle clients are in name order, as `sorted` gives them, kept so
        (`actors.server.idle`) rather than sorted on each call."""
        return self._current_roster().next_client(client, concurrency, self.rng)

    def _current_roster(self) -> Roster:
        """The roster; after `clients` or `in_flight` was replaced (a restore), rebuilt from them."""
        if self.clients is not self._roster.clients or self.in_flight is not self._roster.in_flight:
            self._roster = Roster(self.clients, self.in_flight)
            self.clients, self.in_flight = self._roster.clients, self._roster.in_flight
        return self._roster

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
        if self.owner is not None:  # a group's version: the scheduler reports it up
            await self.owner.version_made(contributors)
            return
        self.metrics.record("model_updated", version=self.version, contributors=contributors)
        if self.version % self.deps.eval_every == 0:
            await self.evaluate()
        await self.checkpoint_when_due()
        if self.deps.stop is None:
            return
        reason = self.deps.stop.reason(self.version, self.clock.now() - self._started_at, self.last_accuracy)
        if reason is not None:
            await self.finish(reason)

    async def evaluate(self) -> None:
        if self.deps.evaluator is None:
            return
        result = await self.compute(self.deps.evaluator, self.params)
        self.last_accuracy = result.accuracy
        train: dict[str, float] = {}
        if self.deps.train_evaluator is not None:
            on_train = await self.compute(self.deps.train_evaluator, self.params)
            train = {"train_loss": on_train.loss, "train_accuracy": on_train.accuracy}
        self.metrics.record(
            "evaluated", version=self.version, accuracy=result.accuracy, loss=result.loss, **train
        )

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
                await self.send_child(client, Leave(reason))
            except FedActorsError as exc:
                self.log.debug("leave_not_sent", client=client, reason=str(exc))

    def state(self) -> dict[str, Any]:
        """What a checkpoint holds (extended with `super()`): containers copied, tensors shared."""
        return {
            "class": self._kind(),
            "version": self.version,
            "params": dict(self.params),
            "rng": self.rng.getstate(),
            "clients": dict(self.clients),
            "next_task_id": self._peek_task_id(),
            "dropped": self.dropped,
            "last_accuracy": self.last_accuracy,
            "elapsed_s": self.clock.now() - self._started_at,
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `state()` returned (before the actor starts), checked as an update is.

        Raises:
            ValueError: the model's dtypes differ, or a field is out of range (named).
            StateDictMismatchError: its model has other keys or shapes.
            KeyError, TypeError: a field is missing or malformed.
        """
        self.params = checked_model(self.params, state["params"], "the model")
        self.version = counter(state, "version", 0)
        self.rng.setstate(rng_state(state["rng"]))
        self.clients = client_samples(state["clients"])
        self._task_ids = itertools.count(counter(state, "next_task_id", 1))
        self.dropped = counter(state, "dropped", 0)
        self.last_accuracy = accuracy(state["last_accuracy"])
        self._resumed_elapsed_s = elapsed_seconds(state["elapsed_s"])

    def resume(self) -> bool:
        """Restore from the checkpoint when the run resumes (see `Checkpoints.restore`)."""
        return self.checkpoints.restore(self._kind(), self._restore)

    async def checkpoint_when_due(self) -> None:
        """Write a checkpoint if one is due (see `Checkpoints.write_when_due`)."""
        await self.checkpoints.write_when_due(self, self.version, self._snapshot)

    def _kind(self) -> str:  # the class a checkpoint names: the owner's, for a scheduler's group
        return type(self if self.owner is None else self.owner).__name__

    def _snapshot(self) -> dict[str, Any]:
        return self.state() if self.owner is None else {**self.state(), **self.owner.owner_state()}

    def _restore(self, state: Mapping[str, Any]) -> int:
        self.load_state(state)
        if self.owner is not None:
            self.owner.load_owner_state(state)
        return self.version

    def _peek_task_id(self) -> int:  # the next task's id (a count is read by taking one: put it back)
        upcoming = next(self._task_ids)
        self._task_ids = itertools.count(upcoming)
        return upcoming

    @cached_property
    def validator(self) -> UpdateValidator:
        """The checks every update passes (made on first use: algorithms set `config` after `__init__`)."""
        config = getattr(getattr(self, "config", None), "validation", None)
        return UpdateValidator(config or ValidationConfig(), self.deps.expected_clients)

    def _rejection(self, sender: str, update: Update) -> str | None:
        in_flight = self.in_flight.get(sender)
        rejection = self.validator.check(sender, update, in_flight, self.params, self.version)
        if rejection is None:
            self.validator.remember(update.task_id)
            return None
        self.validator.report(self.log, sender, rejection)
        return rejection.reason
