"""The trainer a simulated client is given when workers train for it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

from actors.client.local_sgd import Evaluation
from actors.client.trainer import Trainer
from actors.statedict import StateDict
from sims.workers.pending import PendingResult, PendingWeights, resolved
from sims.workers.protocol import JobDone

# (client index, task number, weights, epochs, steps) -> the job's reply, later
Submit = Callable[[int, int, StateDict, int | None, int | None], Future[JobDone]]


class WorkerTrainer:
    """A `Trainer` whose `fit` becomes a job on a worker; its result is read when needed.

    Task `n` of the client (its n-th `fit`) is job `(client, n)` on whichever
    worker is free; the worker trains it as the in-process trainer would its
    n-th task, from the same seed, so the numbers do not depend on the worker.

    Args:
        local: the client's in-process trainer: its sample count, and evaluation.
        client: the client's index among the run's learners.
        submit: hands a job to the pool.
    """

    def __init__(self, local: Trainer, client: int, submit: Submit) -> None:
        self.local = local
        self.client = client
        self.submit = submit
        self.fits = 0

    @property
    def num_samples(self) -> int:
        return self.local.num_samples

    def fit(
        self, weights: StateDict, epochs: int | None = None, *, steps: int | None = None
    ) -> tuple[StateDict, PendingResult]:
        number, self.fits = self.fits, self.fits + 1
        job = self.submit(self.client, number, resolved(weights), epochs, steps)
        return PendingWeights(job), PendingResult(job, self.local.num_samples)

    def evaluate(self, weights: StateDict) -> Evaluation:
        return self.local.evaluate(resolved(weights))
