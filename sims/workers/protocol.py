"""The messages between a simulation and its training workers.

They travel over the project's own ZeroMQ transport, tensors as zero-copy
frames. A job is one local training: a client (by its index among the
learners), the client's task number (which seeds the training), the weights it
starts from, and the epochs the behaviour model chose.
"""

from __future__ import annotations

from actors.messages import Message, StateDict, message

POOL = "sim-pool"  # the simulation's end of the connection (node and actor id)
WORKER = "trainer"  # the actor name a worker answers as


@message("sim.worker_ready")
class WorkerReady(Message):
    """A worker is connected (`setup` 0), or has built run `setup`'s data and model."""

    worker: str
    host: str
    pid: int
    setup: int


@message("sim.run_setup")
class RunSetup(Message):
    """Build the data and model of this run (its resolved topology as JSON); jobs follow."""

    setup: int
    spec: str


@message("sim.train")
class TrainJob(Message):
    """Train client `client` from `weights`, as its task `number`."""

    job: int
    client: int
    number: int
    weights: StateDict
    epochs: int | None = None
    steps: int | None = None  # partial work: this many SGD steps instead of epochs


@message("sim.trained")
class JobDone(Message):
    """A job's trained weights and result, and the wall seconds the worker spent on it."""

    job: int
    weights: StateDict
    num_samples: int
    num_steps: int
    mean_loss: float
    busy_s: float


@message("sim.train_failed")
class JobFailed(Message):
    """Training raised: the error's type and message, as the worker saw them."""

    job: int
    error: str


@message("sim.worker_stop")
class WorkerStop(Message):
    """The simulation is over: exit."""

    reason: str
