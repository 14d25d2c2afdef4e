"""What every server optimizer shares: the interface, its state, and Algorithm 2's skeleton.

A server optimizer applies the aggregated delta Δ_t (the pseudo-gradient,
signed so that x + ηΔ improves the model) to the global parameters:
`step(params, delta)` returns the new parameters and keeps its own buffers
(momentum, second moments) inside. `state_dict()` / `load_state_dict()`
save and restore those buffers and the step count.

Rules shared by all optimizers:
    * Pure: `step` returns new tensors and never changes its arguments or
      its old buffers in place, so a saved `state_dict()` stays a snapshot.
    * Buffers are created at the first step, in each parameter's dtype.
    * Non-floating tensors (counters such as BatchNorm's
      `num_batches_tracked`) are bookkeeping, not parameters: every optimizer
      applies them as x + Δ, with no learning rate and no buffers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from pydantic import BaseModel, ConfigDict, Field

from actors.lazy import LazyModule
from actors.server.errors import OptimizerStateError

if TYPE_CHECKING:
    import torch

    from actors import statedict
    from actors.statedict import StateDict

    Buffers = dict[str, torch.Tensor]
    """One parameter's buffers, by buffer name ("m", "v", "momentum")."""
else:
    torch = LazyModule("torch")  # at the first step: the schema imports these files' settings
    statedict = LazyModule("actors.statedict")


class ServerOptimizer(Protocol):
    """Applies an aggregated delta to the global parameters."""

    def step(self, params: StateDict, delta: StateDict) -> StateDict:
        """Return the new parameters."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Return the optimizer's own state: kind, step count and buffers."""
        ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state that `state_dict()` returned."""
        ...


class OptimizerSettings(BaseModel):
    """Base of each server optimizer's settings: `kind` (a one-value `Literal`, its name in
    topology files) and the optimizer they build."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str

    def build(self) -> ServerOptimizer:
        """A fresh optimizer (no buffers, step 0)."""
        raise NotImplementedError


class AdaptiveSettings(OptimizerSettings):
    """What FedAdam, FedYogi and FedAdagrad share: `lr` is η, `beta1` is β1, `tau` the adaptivity τ."""

    lr: float = Field(default=1e-2, gt=0)
    beta1: float = Field(default=0.9, ge=0, lt=1)
    tau: float = Field(default=1e-3, gt=0)


class BufferedOptimizer(ABC):
    """A server optimizer whose per-parameter state is a few named tensors.

    Subclasses set `buffer_names` in their constructor (after calling this
    one) and implement `_update`. Its `kind` is its settings' kind.
    """

    def __init__(self, config: OptimizerSettings) -> None:
        self.config = config
        self.kind = config.kind
        self.buffer_names: tuple[str, ...] = ()
        self.steps = 0
        self._buffers: dict[str, StateDict] = {}

    @abstractmethod
    def _update(
        self, x: torch.Tensor, delta: torch.Tensor, buffers: Buffers | None
    ) -> tuple[torch.Tensor, Buffers]:
        """Return one floating tensor's new value and buffers (None: first step)."""

    def step(self, params: StateDict, delta: StateDict) -> StateDict:
        """Return the parameters after applying `delta`; advance the buffers.

        Raises:
            StateDictMismatchError: `delta`, or the buffers (after
                `load_state_dict`), do not have the keys and shapes of `params`.
        """
        statedict.check_same_keys_and_shapes(params, delta, who="delta")
        floating = {k: t for k, t in params.items() if statedict.is_floating(t)}
        self._check_buffers(floating)
        result = statedict.add({k: t for k, t in params.items() if k not in floating}, delta)
        buffers: dict[str, StateDict] = {name: {} for name in self.buffer_names}
        for key, x in floating.items():
            result[key], new = self._update(x, delta[key].to(x.dtype), self._buffers_of(key))
            for name, tensor in new.items():
                buffers[name][key] = tensor
        self._buffers = buffers
        self.steps += 1
        return {k: result[k] for k in params}

    def _buffers_of(self, key: str) -> Buffers | None:
        if not self._buffers:
            return None
        return {name: self._buffers[name][key] for name in self.buffer_names}

    def _check_buffers(self, floating: StateDict) -> None:
        for name, buffer in self._buffers.items():
            statedict.check_same_keys_and_shapes(floating, buffer, who=f"{self.kind} buffer {name!r}")

    def state_dict(self) -> dict[str, Any]:
        """Return `{"kind": str, "step": int, "buffers": {name: StateDict}}`.

        Before the first step there are no buffers. The tensors are the
        optimizer's own, but they are never changed in place, so the returned
        dict stays a snapshot.
        """
        buffers = {name: dict(sd) for name, sd in self._buffers.items()}
        return {"kind": self.kind, "step": self.steps, "buffers": buffers}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state that `state_dict()` of the same kind of optimizer returned.

        The tensors are copied. They are checked against the parameters at
        the next `step`.

        Raises:
            OptimizerStateError: the state is of another kind or another
                configuration, its step count is not an int >= 0, or its
                buffers are not the ones this optimizer keeps at that step.
            StateDictMismatchError: its buffers disagree among themselves.
        """
        self._check_state(state)
        self.steps = state["step"]
        self._buffers = {name: statedict.clone(sd) for name, sd in state["buffers"].items()}

    def _check_state(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping) or set(state) != {"kind", "step", "buffers"}:
            self._reject("expected a mapping with keys 'kind', 'step' and 'buffers'")
        if state["kind"] != self.kind:
            self._reject(f"the state was saved by {state['kind']!r}")
        step = state["step"]
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            self._reject(f"step must be an int >= 0, got {step!r}")
        self._check_saved_buffers(step, state["buffers"])

    def _check_saved_buffers(self, step: int, buffers: Mapping[str, StateDict]) -> None:
        expected = sorted(self.buffer_names) if step > 0 else []
        if not isinstance(buffers, Mapping) or sorted(buffers) != expected:
            got = sorted(buffers) if isinstance(buffers, Mapping) else buffers
            self._reject(f"at step {step} expected buffers {expected}, got {got}")
        for name, buffer in buffers.items():
            if not isinstance(buffer, Mapping) or not all(
                isinstance(t, torch.Tensor) for t in buffer.values()
            ):
                self._reject(f"buffer {name!r} must map parameter names to tensors")
            reference = buffers[expected[0]]
            statedict.check_same_keys_and_shapes(reference, buffer, who=f"{self.kind} buffer {name!r}")

    def _reject(self, reason: str) -> NoReturn:
        raise OptimizerStateError(self.kind, reason)


class AdaptiveOptimizer(BufferedOptimizer):
    """Reddi et al. 2021, Algorithm 2, up to the second moment's update rule.

    m_t = β1 m_{t-1} + (1 - β1) Δ_t
    v_t = `_second_moment(v_{t-1}, Δ_t²)`
    x_{t+1} = x_t + η m_t / (√v_t + τ)

    with m_{-1} = 0 and v_{-1} = τ² (the paper asks only v_{-1} ≥ τ²; τ² is
    the smallest allowed value), and no bias correction.
    """

    def __init__(self, config: AdaptiveSettings) -> None:
        super().__init__(config)
        self.buffer_names = ("m", "v")
        self.lr = config.lr
        self.beta1 = config.beta1
        self.tau = config.tau

    @abstractmethod
    def _second_moment(self, v: torch.Tensor, delta_squared: torch.Tensor) -> torch.Tensor:
        """Return v_t from v_{t-1} and Δ_t²."""

    def _update(
        self, x: torch.Tensor, delta: torch.Tensor, buffers: Buffers | None
    ) -> tuple[torch.Tensor, Buffers]:
        if buffers is None:
            buffers = {"m": torch.zeros_like(x), "v": torch.full_like(x, self.tau**2)}
        m = buffers["m"] * self.beta1 + delta * (1 - self.beta1)
        v = self._second_moment(buffers["v"], delta * delta)
        return x + self.lr * m / (v.sqrt() + self.tau), {"m": m, "v": v}
