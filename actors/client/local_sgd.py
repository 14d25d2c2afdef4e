"""A client's local work: minibatch SGD on its own data, and evaluation.

Local SGD for E epochs or S steps is the client half of FedAvg (McMahan et al.,
"Communication-Efficient Learning of Deep Networks from Decentralized Data",
AISTATS 2017, Algorithm 1, ClientUpdate). With `prox_mu` = μ > 0 the client
minimises FedProx's local objective (Li, Sahu, Zaheer, Sanjabi, Talwalkar,
Smith, "Federated Optimization in Heterogeneous Networks", MLSys 2020, eq. 2):

    h(w) = F(w) + μ/2 ‖w - w_global‖²

where w_global is the model's parameters when `local_train` is called. The
proximal term's gradient μ(w - w_global) is added to each step's gradient
directly rather than through autograd, which is the same gradient for less
work.

Each step: data gradient (mean cross-entropy over the batch) + proximal
gradient, then clipping to `max_grad_norm`, then `torch.optim.SGD` (which adds
weight decay and momentum). Without momentum or weight decay, on the CPU, the
step is SGD's own arithmetic written out (`p.add_(p.grad, alpha=-lr)`, as
`torch.optim.SGD` does it there, bit for bit) without the optimizer's wrappers
(profiler ranges, graph-break guards), which cost more than a small model's step.
The data are indexed with shuffled index tensors drawn from the caller's
generator: no DataLoader, and no draw from torch's global RNG (layers that draw
random numbers themselves, such as dropout, still use it).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from actors.configs.client import TrainConfig
from actors.errors import FedActorsError
from actors.training import Evaluation, TrainResult

__all__ = [  # `Evaluation`, `TrainResult` and `TrainConfig` live in the core, re-exported here
    "Evaluation",
    "LocalSGD",
    "TrainConfig",
    "TrainResult",
    "TrainingInputError",
    "evaluate",
    "local_train",
]


class TrainingInputError(FedActorsError):
    """The data or an argument given to `local_train` or `evaluate` cannot be used.

    Attributes:
        what: the argument at fault.
        expected: what it should be.
        actual: what it is.
    """

    def __init__(self, what: str, expected: str, actual: str) -> None:
        self.what = what
        self.expected = expected
        self.actual = actual
        super().__init__(f"{what}: expected {expected}, got {actual}")


def local_train(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    config: TrainConfig,
    generator: torch.Generator,
    epochs: int | None = None,
    steps: int | None = None,
) -> TrainResult:
    """Train `model` in place with minibatch SGD on `(x, y)`.

    The model is put in training mode and given back in the mode it came in.
    A caller that trains the same model again and again (a client, task after
    task) keeps a `LocalSGD` of it instead, which builds the optimizer once.

    Args:
        model: maps a batch of `x` to logits of shape (batch, classes).
        x: inputs, one sample per row of dim 0.
        y: class indices, a 1-D integer tensor as long as `x`.
        config: epochs or steps, batch size, and SGD's settings.
        generator: the only source of the shuffling (a CPU generator).
        epochs: if given, train this many epochs instead of what `config`
            says (variable local work per client or per round).
        steps: if given (and `epochs` is not), train this many SGD steps instead
            (a straggler's partial work: what fits its deadline).

    Raises:
        TrainingInputError: `x` and `y` do not fit each other or are empty.
        pydantic.ValidationError: `epochs` is given and below 1.
    """
    return LocalSGD(model).train(x, y, config, generator, epochs, steps)


class LocalSGD:
    """`local_train` of one model, for many tasks: what a task needs is built once.

    One `torch.optim.SGD` over the model's trainable parameters serves every
    task: each starts by setting its learning rate, momentum and weight decay
    and clearing its state (the momentum buffers), which is a new optimizer's
    state, so the steps are the same, bit for bit. FedProx's anchor (the
    weights the task started from) is copied into buffers kept from the last
    task. A model given other parameters since (or other `requires_grad`) gets
    a new optimizer.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._params: list[nn.Parameter] = []
        self._optimizer: torch.optim.SGD | None = None
        self._anchor: list[torch.Tensor] = []

    def train(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        config: TrainConfig,
        generator: torch.Generator,
        epochs: int | None = None,
        steps: int | None = None,
    ) -> TrainResult:
        """`local_train(self.model, ...)`; see there for the arguments and errors."""
        if epochs is not None or steps is not None:
            config = _with_work(config, epochs, steps)
        num_samples = _check_data(x, y)
        was_training = self.model.training
        _set_mode(self.model, True)
        try:
            num_steps, mean_loss = self._train(x, y, config, generator)
        finally:
            _set_mode(self.model, was_training)
        return TrainResult(num_samples, num_steps, mean_loss)

    def _train(
        self, x: torch.Tensor, y: torch.Tensor, config: TrainConfig, generator: torch.Generator
    ) -> tuple[int, float]:
        params, optimizer = self._reset(config)
        anchor = self._anchored(params) if config.prox_mu > 0 else None
        plain = (
            config.momentum == 0 and config.weight_decay == 0 and all(p.device.type == "cpu" for p in params)
        )
        losses: list[torch.Tensor] = []
        counts: list[int] = []
        for batch in _batches(x.shape[0], config, generator, x.device):
            if plain:
                for p in params:
                    p.grad = None
            else:
                optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(x.index_select(0, batch)), y.index_select(0, batch))
            loss.backward()  # type: ignore[no-untyped-call]  # torch: Tensor.backward is unannotated
            _finish_gradient(params, anchor, config)
            if plain:
                _plain_step(params, config.lr)
            else:
                optimizer.step()
            losses.append(loss.detach())
            counts.append(batch.numel())
        return len(counts), _mean_loss(losses, counts)

    def _reset(self, config: TrainConfig) -> tuple[list[nn.Parameter], torch.optim.SGD]:
        """The optimizer, as `torch.optim.SGD(params, lr, momentum, weight_decay)` would make it."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = self._optimizer
        if (
            optimizer is None
            or len(params) != len(self._params)
            or any(p is not q for p, q in zip(params, self._params, strict=True))
        ):
            optimizer = self._optimizer = torch.optim.SGD(params, lr=config.lr)
            self._params, self._anchor = params, []
        group = optimizer.param_groups[0]
        group.update(lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
        optimizer.state.clear()
        return params, optimizer

    def _anchored(self, params: list[nn.Parameter]) -> list[torch.Tensor]:
        """w_global: the parameters now, copied into the buffers of the last task."""
        if not self._anchor:
            self._anchor = [p.detach().clone() for p in params]
        else:
            for buffer, p in zip(self._anchor, params, strict=True):
                buffer.copy_(p.detach())
        return self._anchor


@functools.lru_cache(maxsize=64)
def _with_work(config: TrainConfig, epochs: int | None, steps: int | None) -> TrainConfig:
    """`config` with the task's epochs (or else steps), validated once per distinct triple."""
    if epochs is not None:
        return TrainConfig.model_validate({**config.model_dump(), "epochs": epochs, "steps": None})
    return TrainConfig.model_validate({**config.model_dump(), "epochs": None, "steps": steps})


def _set_mode(model: nn.Module, training: bool) -> None:
    """`model.train(training)`, skipped when every module is in that mode already (it is slow)."""
    if any(m.training != training for m in model.modules()):
        model.train(training)


def _mean_loss(losses: list[torch.Tensor], counts: list[int]) -> float:
    """Σ loss_i·n_i / Σ n_i, rounded as a float64 sum of float32 products, summed in step order.

    One transfer at the end instead of one per step; the arithmetic is that of
    `total += loss.cpu() * n` with `total` a float64 tensor, step by step.
    """
    stacked = torch.stack(losses)
    products = (stacked * torch.tensor(counts, dtype=stacked.dtype, device=stacked.device)).tolist()
    total = 0.0
    for product in products:
        total += product
    return total / sum(counts)


def _batches(
    n: int, config: TrainConfig, generator: torch.Generator, device: torch.device
) -> Iterator[torch.Tensor]:
    """Index tensors of the batches: a fresh permutation per pass, the last batch short."""
    if config.steps is not None:
        count = config.steps
    else:
        assert config.epochs is not None  # TrainConfig's validator guarantees one of them
        count = config.epochs * math.ceil(n / config.batch_size)
    # Lazy: the generator draws a permutation only when a pass begins.
    passes = (torch.randperm(n, generator=generator).to(device) for _ in itertools.count())
    batches = itertools.chain.from_iterable(torch.split(p, config.batch_size) for p in passes)
    return itertools.islice(batches, count)


@torch.no_grad()
def _plain_step(params: list[nn.Parameter], lr: float) -> None:
    """`torch.optim.SGD(params, lr).step()` on the CPU: what its single-tensor path does."""
    for p in params:
        if p.grad is not None:
            p.add_(p.grad, alpha=-lr)


def _finish_gradient(
    params: list[nn.Parameter], anchor: list[torch.Tensor] | None, config: TrainConfig
) -> None:
    """Add FedProx's μ(w - w_global) to the data gradient, then clip the whole."""
    if anchor is not None:
        for p, p_global in zip(params, anchor, strict=True):
            # A parameter without a gradient never moved: its proximal gradient is 0.
            if p.grad is not None:
                p.grad.add_(p.detach() - p_global, alpha=config.prox_mu)
    if config.max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1024) -> Evaluation:
    """Return the mean cross-entropy and the accuracy of `model` on `(x, y)`.

    The model is put in evaluation mode and given back in the mode it came in.

    Raises:
        TrainingInputError: `x` and `y` do not fit each other or are empty, or
            `batch_size` is below 1.
    """
    if batch_size < 1:
        raise TrainingInputError("batch_size", "an int >= 1", str(batch_size))
    num_samples = _check_data(x, y)
    was_training = model.training
    _set_mode(model, False)
    try:
        loss_sum, correct = _score(model, x, y, batch_size)
    finally:
        _set_mode(model, was_training)
    return Evaluation(loss_sum / num_samples, correct / num_samples, num_samples)


def _score(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> tuple[float, int]:
    loss_sum = torch.zeros((), dtype=torch.float64)
    correct = torch.zeros((), dtype=torch.int64)
    for xb, yb in zip(torch.split(x, batch_size), torch.split(y, batch_size), strict=True):
        logits = model(xb)
        loss_sum += F.cross_entropy(logits, yb, reduction="sum").cpu()
        correct += (logits.argmax(dim=1) == yb).sum().cpu()
    return loss_sum.item(), int(correct.item())


def _check_data(x: torch.Tensor, y: torch.Tensor) -> int:
    """Return the number of samples, or raise if `x` and `y` do not fit."""
    if y.dim() != 1 or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        actual = f"{y.dtype} tensor of shape {tuple(y.shape)}"
        raise TrainingInputError("labels y", "a 1-D integer tensor of class indices", actual)
    if x.dim() == 0 or x.shape[0] != y.shape[0]:
        actual = f"x of shape {tuple(x.shape)} and {y.shape[0]} labels"
        raise TrainingInputError("data", "one label per sample (row of x)", actual)
    if y.shape[0] == 0:
        raise TrainingInputError("data", "at least one sample", "none")
    return y.shape[0]
