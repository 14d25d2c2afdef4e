"""`WorkerPool`: the simulation's end of its training workers.

The pool runs in a thread of the simulation process, on its own (real-time)
event loop, with one ZeroMQ transport that every worker connects to. The
simulation hands it jobs with `submit` and gets a `Future` per job; the pool
sends each job to the worker with the fewest jobs in hand (ties: the first),
so work spreads by load, and a job's result depends only on the job.

A worker that dies (its process ends before the pool closes) ends the
simulation: every job it held fails with a `WorkerError` naming it, and
`on_failure` is called, once. The jobs are not re-run elsewhere: a worker
that dies has usually run out of memory or been killed by a scheduler, and
the same jobs on the next worker would meet the same fate more slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import structlog

from actors.messages import Envelope
from actors.statedict import StateDict
from actors.transport.zeromq import ZmqTransport
from sims.errors import WorkerError
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

WATCH_EVERY_S = 0.2  # how often (wall time) the pool checks that its worker processes live
STOP_GRACE_S = 5.0  # after WorkerStop and end of stdin, a worker gets this long to exit before a kill

log = structlog.get_logger("fedactors.sims.workers")


class WorkerProcess(Protocol):
    """What the pool needs of a started worker (a `subprocess.Popen` is one)."""

    stdin: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


# (worker id, pool endpoint, device) -> the process and where its log is
StartWorker = Callable[[str, str, str], tuple[WorkerProcess, str]]


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    """How much the workers did.

    Attributes:
        workers: workers in the pool.
        jobs_done: jobs answered.
        busy_s: wall seconds the workers spent training, summed over workers.
        wall_s: wall seconds since the pool started.
    """

    workers: int
    jobs_done: int
    busy_s: float
    wall_s: float

    @property
    def utilisation(self) -> float:
        """Fraction of the workers' time spent training (0 to 1)."""
        return min(1.0, self.busy_s / (self.wall_s * self.workers)) if self.wall_s > 0 else 0.0


@dataclass(slots=True)
class _Worker:
    id: str
    process: WorkerProcess
    log_at: str
    where: str = "starting"
    setup: int = -1  # the last run it has built (0: connected, none yet)
    jobs: set[int] = field(default_factory=set)


class WorkerPool:
    """Training workers for one simulation (see the module docstring).

    Args:
        count: workers to start.
        start_worker: starts one worker process (local, or on a host).
        devices: the workers' devices, dealt out in turn.
        bind: where the pool listens (`tcp://0.0.0.0:*` for workers on other hosts).
        ready_timeout_s: how long (wall time) workers may take to build their data.
    """

    def __init__(
        self,
        count: int,
        start_worker: StartWorker,
        devices: Sequence[str] = ("cpu",),
        bind: str = "tcp://127.0.0.1:*",
        ready_timeout_s: float = 300.0,
    ) -> None:
        self.count = count
        self.start_worker = start_worker
        self.devices = list(devices) or ["cpu"]
        self.bind = bind
        self.ready_timeout_s = ready_timeout_s
        self.on_failure: Callable[[WorkerError], object] | None = None
        self.failure: WorkerError | None = None
        self._workers: dict[str, _Worker] = {}
        self._jobs: dict[int, tuple[Future[JobDone], _Worker, int, int]] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._ready = threading.Condition()
        self._setups = itertools.count(1)
        self._closing = False
        self._done = 0
        self._busy_s = 0.0
        self._started_at = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="sim-pool", daemon=True)
        self._transport: ZmqTransport | None = None
        self._outbox: asyncio.Queue[tuple[str, TrainJob | RunSetup | WorkerStop]] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- the simulation's side (any thread) -------------------------------------

    def start(self) -> None:
        """Start the workers and wait until each has connected.

        Raises:
            WorkerError: a worker exited, or did not connect in `ready_timeout_s`.
        """
        self._thread.start()
        endpoint = self._call(self._open())
        for index in range(self.count):
            worker_id = f"worker-{index + 1}"
            process, log_at = self.start_worker(worker_id, endpoint, self.devices[index % len(self.devices)])
            self._workers[worker_id] = _Worker(worker_id, process, log_at)
        self._call(self._begin())
        self._await_setup(0)

    def prepare(self, spec: RunSpec) -> None:
        """Have every worker build `spec`'s data and model (a pool serves runs one after another).

        Raises:
            WorkerError: a worker died, or was not ready in `ready_timeout_s`.
        """
        setup = next(self._setups)
        text = spec.model_dump_json()
        for worker in self._workers.values():
            self._loop.call_soon_threadsafe(self._post, worker.id, RunSetup(setup, text))
        self._await_setup(setup)
        self._started_at = time.perf_counter()
        self._done, self._busy_s = 0, 0.0

    def _await_setup(self, setup: int) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        with self._ready:
            while not all(w.setup >= setup for w in self._workers.values()):
                self._ready.wait(WATCH_EVERY_S)
                if self.failure is not None:
                    raise self.failure
                if time.monotonic() > deadline:
                    raise WorkerError(self._unready(setup), f"not ready after {self.ready_timeout_s} s")

    def submit(
        self, client: int, number: int, weights: StateDict, epochs: int | None, steps: int | None = None
    ) -> Future[JobDone]:
        """Hand task `number` of client `client` to the least busy worker."""
        future: Future[JobDone] = Future()
        with self._lock:
            if self.failure is not None:
                future.set_exception(self.failure)
                return future
            job = next(self._ids)
            worker = min(self._workers.values(), key=lambda w: len(w.jobs))
            worker.jobs.add(job)
            self._jobs[job] = (future, worker, client, number)
        message = TrainJob(job, client, number, weights, epochs, steps)
        self._loop.call_soon_threadsafe(self._post, worker.id, message)
        return future

    def statistics(self) -> PoolStatistics:
        wall = time.perf_counter() - self._started_at if self._started_at else 0.0
        return PoolStatistics(self.count, self._done, self._busy_s, wall)

    def close(self) -> None:
        """Stop every worker (a kill after `STOP_GRACE_S`) and the pool's thread."""
        if self._closing or not self._thread.is_alive():
            return
        self._closing = True
        try:
            self._call(self._shut())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
        for worker in self._workers.values():
            _end_process(worker.process)

    def _call(self, coro: Coroutine[Any, Any, str]) -> str:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    # -- the pool's thread -------------------------------------------------------

    async def _open(self) -> str:
        self._transport = ZmqTransport(POOL, self.bind)
        self._outbox = asyncio.Queue()
        return await self._transport.start()

    async def _begin(self) -> str:
        self._tasks = [asyncio.create_task(c) for c in (self._receive(), self._send(), self._watch())]
        return ""

    def _post(self, worker_id: str, message: TrainJob | RunSetup | WorkerStop) -> None:
        assert self._outbox is not None
        self._outbox.put_nowait((worker_id, message))

    async def _send(self) -> None:
        assert self._transport is not None
        assert self._outbox is not None
        while True:
            worker_id, message = await self._outbox.get()
            try:
                await self._transport.send(worker_id, Envelope(POOL, WORKER, message))
            except Exception as exc:  # unreachable or closed: the worker is lost either way
                self._lost(self._workers[worker_id], f"cannot be sent its jobs ({exc})")

    async def _receive(self) -> None:
        assert self._transport is not None
        while True:
            envelope = await self._transport.recv()
            self._on_message(envelope.origin, envelope.body)

    def _on_message(self, origin: str, body: object) -> None:
        match body:
            case WorkerReady(worker=worker_id, host=host, pid=pid, setup=setup) if worker_id in self._workers:
                with self._ready:
                    worker = self._workers[worker_id]
                    worker.where, worker.setup = f"pid {pid} on {host}", setup
                    self._ready.notify_all()
                log.debug("worker_ready", worker=worker_id, host=host, pid=pid, setup=setup)
            case JobDone(job=job) if job in self._jobs:
                self._busy_s += body.busy_s
                self._done += 1
                self._finish(job).set_result(body)
            case JobFailed(job=job, error=error) if job in self._jobs:
                _, worker, client, number = self._jobs[job]
                failed = WorkerError(self._name(worker), f"client {client} task {number} raised {error}")
                self._finish(job).set_exception(failed)
            case _:
                log.warning("worker_message_dropped", origin=origin, kind=getattr(body, "kind", "?"))

    def _finish(self, job: int) -> Future[JobDone]:
        with self._lock:
            future, worker, _, _ = self._jobs.pop(job)
            worker.jobs.discard(job)
        return future

    async def _watch(self) -> None:
        while not self._closing:
            for worker in self._workers.values():
                code = worker.process.poll()
                if code is not None:
                    self._lost(worker, f"exited with code {code}")
            await asyncio.sleep(WATCH_EVERY_S)

    def _lost(self, worker: _Worker, how: str) -> None:
        if self._closing or self.failure is not None:
            return
        with self._lock:
            held = sorted(worker.jobs)
            error = WorkerError(
                self._name(worker), f"{how} holding {len(held)} job(s); its log: {worker.log_at}"
            )
            self.failure = error
            futures = [self._jobs.pop(job)[0] for job in list(self._jobs)]
            for other in self._workers.values():
                other.jobs.clear()
        log.error("worker_lost", worker=worker.id, where=worker.where, reason=how)
        for future in futures:
            future.set_exception(error)
        if self.on_failure is not None:
            self.on_failure(error)

    def _name(self, worker: _Worker) -> str:
        return f"{worker.id} ({worker.where})"

    def _unready(self, setup: int) -> str:
        return ", ".join(self._name(w) for w in self._workers.values() if w.setup < setup)

    async def _shut(self) -> str:
        for worker in self._workers.values():
            if worker.process.poll() is None and worker.setup >= 0:
                self._post(worker.id, WorkerStop("simulation_ended"))
        await asyncio.sleep(0)
        assert self._outbox is not None
        for _ in range(100):  # let the sender flush the stops (bounded: a dead peer never drains)
            if self._outbox.empty():
                break
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._transport is not None:
            await self._transport.close()
        return ""


def _end_process(process: WorkerProcess) -> None:
    """Close its stdin (a worker exits at its end), wait, then kill."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):  # already closed by a dead worker
            process.stdin.close()
    try:
        process.wait(STOP_GRACE_S)
    except Exception:  # still running (subprocess.TimeoutExpired) or not ours to wait for
        process.kill()
        process.wait(STOP_GRACE_S)
