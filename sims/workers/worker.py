"""A training worker: `python -m sims.workers.worker --pool ENDPOINT --worker-id ID`.

It connects to the pool; for each run it is sent (the resolved topology) it
builds the data and model from the file's seed exactly as the simulation does
(so no shard is ever sent), then trains the jobs it is sent, one at a time. It
exits when told to, or when its stdin ends (the simulation, or the SSH session
to it, is gone).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import socket
import sys
import threading
import time
import traceback

import torch

from actors.client.trainer import Trainer
from actors.messages import Envelope
from actors.transport.zeromq import ZmqTransport
from sims.build import NodeBuilder
from sims.workers.protocol import (
    POOL,
    WORKER,
    JobDone,
    JobFailed,
    RunSetup,
    TrainJob,
    WorkerReady,
    WorkerStop,
)
from topologies.spec import RunSpec


class Trainers:
    """Every client's trainer in this worker, built on first use from the run's spec."""

    def __init__(self, spec: RunSpec, device: str) -> None:
        self.builder = NodeBuilder(spec, device=device)
        self._trainers: dict[int, Trainer] = {}

    def warm_up(self) -> None:
        """Train one throw-away task, so torch's first-call costs (seconds) are paid
        before the worker says it is ready, not inside the first job."""
        self.run(TrainJob(-1, 0, 0, self.builder.initial_weights(), None))

    def run(self, job: TrainJob) -> JobDone | JobFailed:
        """Train one job; an error in training is the job's answer, not the worker's end."""
        started = time.perf_counter()
        trainer = self._trainers.get(job.client)
        try:
            if trainer is None:
                trainer = self._trainers[job.client] = self.builder.client_trainer(job.client)
            fit_task = getattr(trainer, "fit_task", None)
            if fit_task is not None:
                steps = {} if job.steps is None else {"steps": job.steps}  # a subclass may not take it
                weights, result = fit_task(job.weights, job.epochs, job.number, **steps)
            elif job.steps is not None and "steps" in inspect.signature(trainer.fit).parameters:
                # a user's trainer whose fit takes steps (checked above; the Trainer protocol has no steps)
                weights, result = trainer.fit(job.weights, steps=job.steps)  # type: ignore[call-arg]
            else:  # a user's trainer: its own seeding; one epoch for steps it cannot count
                weights, result = trainer.fit(job.weights, job.epochs if job.steps is None else 1)
        except Exception as exc:
            return JobFailed(job.job, f"{type(exc).__name__}: {exc}")
        busy = time.perf_counter() - started
        return JobDone(job.job, weights, result.num_samples, result.num_steps, result.mean_loss, busy)


async def serve(pool: str, worker_id: str, device: str) -> None:
    """Connect to the pool at `pool` and answer it until it says stop."""
    transport = ZmqTransport(worker_id, "tcp://127.0.0.1:*")
    await transport.start()
    transport.add_peer(POOL, pool)
    trainers: Trainers | None = None

    async def answer(message: JobDone | JobFailed | WorkerReady) -> None:
        await transport.send(POOL, Envelope(WORKER, POOL, message))

    try:
        await answer(WorkerReady(worker_id, socket.gethostname(), os.getpid(), 0))
        while True:
            body = (await transport.recv()).body
            match body:
                case WorkerStop():
                    return
                case RunSetup(setup=setup, spec=text):
                    trainers = Trainers(RunSpec.model_validate_json(text), device)
                    trainers.warm_up()
                    await answer(WorkerReady(worker_id, socket.gethostname(), os.getpid(), setup))
                case TrainJob() if trainers is not None:
                    await answer(trainers.run(body))
    finally:
        await transport.close()


def _exit_on_stdin_eof() -> None:
    def watch() -> None:
        while os.read(sys.stdin.fileno(), 65536):
            pass
        os._exit(0)  # nothing to flush: the simulation that wanted our results is gone

    threading.Thread(target=watch, name="stdin-eof", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sims.workers.worker", description=__doc__)
    parser.add_argument("--pool", required=True, help="the simulation's pool endpoint")
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    _exit_on_stdin_eof()
    # One intra-op thread, as the simulation's own trainer: the same reduction
    # order, so the same bits, and no worker fights another for a core.
    torch.set_num_threads(1)
    try:
        asyncio.run(serve(args.pool, args.worker_id, args.device))
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
