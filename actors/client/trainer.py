"""What a client trains with: the `Trainer` interface (`actors.training`) and its torch implementation.

The node injects a trainer into each client: the model, the client's local data
and its training settings. A user's own trainer (named `module:attr` in the
topology file) only has to offer the same three members.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from actors.client.local_sgd import LocalSGD, evaluate
from actors.client.model_state import ModelState
from actors.configs.client import TrainConfig
from actors.statedict import StateDict
from actors.training import Evaluation, Trainer, TrainResult

__all__ = ["TorchTrainer", "Trainer", "task_seed"]  # `Trainer` is the core's, re-exported


class TorchTrainer:
    """A `Trainer` over in-memory tensors with minibatch SGD (optionally FedProx).

    Args:
        model: the model; its weights are overwritten by each `fit`/`evaluate`.
        x, y: the local data (training data for clients, test data for servers).
        config: epochs or steps, batch size, SGD settings, FedProx μ.
        seed: the client's seed. Task `n` (the client's n-th `fit`, from 0) trains
            with a generator and torch's global RNG (dropout) seeded from
            `(seed, n)`, so its result depends on the task alone: not on which
            process trains it, nor on what that process trained before.
        device: where the model and data live while training ("cpu", "cuda:1");
            weights go in and come out on the CPU.

    Trainers of one process may share one model (a simulation's clients train
    one at a time): they share its optimizer and buffers too (`LocalSGD`,
    `ModelState`), built once, so a task allocates no more than its results.
    """

    def __init__(
        self,
        model: nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        config: TrainConfig,
        seed: int,
        device: str = "cpu",
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device)
        self.x = x.to(self.device)
        self.y = y.to(self.device)
        self.config = config
        self.seed = seed
        self.fits = 0
        self.session = _session(self.model)
        self._generator = torch.Generator()  # reseeded by each task: a new one's stream

    @property
    def num_samples(self) -> int:
        return len(self.y)

    def fit(
        self, weights: StateDict, epochs: int | None = None, *, steps: int | None = None
    ) -> tuple[StateDict, TrainResult]:
        number, self.fits = self.fits, self.fits + 1
        return self.fit_task(weights, epochs, number, steps=steps)

    def fit_task(
        self, weights: StateDict, epochs: int | None, number: int, *, steps: int | None = None
    ) -> tuple[StateDict, TrainResult]:
        """`fit` as the client's task `number` (what a simulation worker runs)."""
        seed = task_seed(self.seed, number)
        self.session.state.load(weights)
        generator = self._generator.manual_seed(seed)
        with _global_rng_seeded(seed, self.device):
            result = self.session.sgd.train(self.x, self.y, self.config, generator, epochs, steps)
        return self.session.state.copy(self.device), result

    def evaluate(self, weights: StateDict) -> Evaluation:
        self.session.state.load(weights)
        return evaluate(self.model, self.x, self.y)


class _Session:
    """What every task on one model reuses: its optimizer, its buffers, where its tensors are."""

    def __init__(self, model: nn.Module) -> None:
        self.state = ModelState(model)
        self.sgd = LocalSGD(model)


_SESSIONS: weakref.WeakKeyDictionary[nn.Module, _Session] = weakref.WeakKeyDictionary()


def _session(model: nn.Module) -> _Session:
    session = _SESSIONS.get(model)
    if session is None:
        session = _SESSIONS[model] = _Session(model)
    return session


_MASK64 = (1 << 64) - 1


def task_seed(seed: int, number: int) -> int:
    """The seed of task `number` of a client whose seed is `seed` (31 bits).

    Two rounds of splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom
    number generators", OOPSLA 2014) over the pair: a microsecond, where numpy's
    SeedSequence takes 20 (a 1,000-client simulation pays it every update).
    """
    return _splitmix64(_splitmix64(seed) ^ number) & 0x7FFF_FFFF


def _splitmix64(value: int) -> int:
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


@contextmanager
def _global_rng_seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the global generator dropout draws from (the CPU's, or the GPU's the model is
    on) for one task, then put its state back. `torch.manual_seed` would seed every
    accelerator each time (250 µs)."""
    if device.type == "cuda":
        with torch.random.fork_rng(devices=[device]), torch.cuda.device(device):
            torch.cuda.manual_seed(seed)  # the current device's generator: this one
            yield
        return
    generator = torch.default_generator
    state = generator.get_state()
    generator.manual_seed(seed)
    try:
        yield
    finally:
        generator.set_state(state)
