"""Errors of the simulation layer: datasets, partitions and models."""

from __future__ import annotations


class SimError(Exception):
    """Base class of every error raised by `sims`."""


class DataError(SimError):
    """A dataset cannot be loaded or split as declared.

    Attributes:
        where: the file, dataset or partition concerned.
        reason: what was expected and what was found, and how to fix it.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class ModelError(SimError):
    """A model cannot be built for the dataset's input shape and classes.

    Attributes:
        model: the model kind (or import path) concerned.
        reason: what was expected and what was found.
    """

    def __init__(self, model: str, reason: str) -> None:
        self.model = model
        self.reason = reason
        super().__init__(f"model {model!r}: {reason}")


class WorkerError(SimError):
    """A training worker of a parallel simulation failed to start, died, or broke a task.

    Attributes:
        worker: the worker's id ("worker-1") and where it ran.
        reason: what happened, and how to fix it where that is known.
    """

    def __init__(self, worker: str, reason: str) -> None:
        self.worker = worker
        self.reason = reason
        super().__init__(f"simulation worker {worker}: {reason}")


class DeviceError(SimError):
    """A device the topology asks for is not present on this machine.

    Attributes:
        field: the topology field that names it (`client.device`, `sim.devices`).
        device: the device asked for.
        reason: what is missing.
    """

    def __init__(self, field: str, device: str, reason: str) -> None:
        self.field = field
        self.device = device
        self.reason = reason
        super().__init__(f"{field} = {device!r}: {reason}")
