"""Arithmetic on PyTorch state dicts: the vocabulary of every FL server.

A `StateDict` maps parameter and buffer names to tensors, as
`nn.Module.state_dict()` returns. Every helper here is pure: it returns a new
dict of new tensors and never changes its arguments, so a caller may keep any
state dict it was given or returned as a snapshot.

The helpers do not validate their arguments (they are called for every update
a server receives); callers validate once at their boundary with
`check_same_keys_and_shapes`. The keys of the first argument drive the result.

Dtype rule:
    * A floating (or complex) tensor keeps its own dtype: results have the
      dtype of the first argument, and the arithmetic runs in that dtype.
    * A non-floating tensor (integer or bool buffers, such as BatchNorm's
      `num_batches_tracked`) is computed in float64 and rounded to the nearest
      integer (half to even) before being cast back to its own dtype, so an
      averaged counter stays a counter. Bool tensors take part as 0 and 1, and
      any non-zero result casts back to True.
    * Complex tensors keep their dtype in the arithmetic helpers; the robust
      aggregators, which sort or measure distances, do not support them.
    * Norms and distances (`global_norm`, and Krum's distances) skip
      non-floating tensors: counters are bookkeeping, not parameters, and a
      step count of 500 must not outweigh every weight in the model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch

from actors.errors import FedActorsError

StateDict = dict[str, torch.Tensor]


class StateDictMismatchError(FedActorsError):
    """A state dict does not have the keys or shapes of the reference.

    Attributes:
        who: what the mismatching state dict is ("update 3", "delta").
        key: the first key that differs, or None when the key sets differ.
        expected: what the reference has (sorted missing keys, or a shape).
        actual: what arrived (sorted unexpected keys, or a shape).
    """

    def __init__(self, who: str, key: str | None, expected: object, actual: object) -> None:
        self.who = who
        self.key = key
        self.expected = expected
        self.actual = actual
        if key is None:
            detail = f"keys differ: missing {expected}, unexpected {actual}"
        else:
            detail = f"key {key!r} has shape {actual}, expected {expected}"
        super().__init__(f"{who}: {detail}; it must come from the same model architecture")


def is_floating(tensor: torch.Tensor) -> bool:
    """Whether `tensor` is combined in its own dtype (see the module's dtype rule)."""
    return tensor.is_floating_point() or tensor.is_complex()


def _compute(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if is_floating(tensor) else tensor.to(torch.float64)


def _restore(result: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if is_floating(like):
        return result.to(like.dtype)
    return result.round().to(like.dtype)


def sub(a: StateDict, b: StateDict) -> StateDict:
    """Return `a - b`, key by key."""
    return {k: _restore(_compute(a[k]) - _compute(b[k]), a[k]) for k in a}


def add(a: StateDict, b: StateDict) -> StateDict:
    """Return `a + b`, key by key."""
    return {k: _restore(_compute(a[k]) + _compute(b[k]), a[k]) for k in a}


def scale(a: StateDict, c: float) -> StateDict:
    """Return `c · a`, key by key."""
    return {k: _restore(_compute(a[k]) * c, a[k]) for k in a}


def add_scaled(x: StateDict, d: StateDict, c: float) -> StateDict:
    """Return `x + c · d`, key by key."""
    return {k: _restore(_compute(x[k]) + _compute(d[k]) * c, x[k]) for k in x}


def mix(x: StateDict, y: StateDict, alpha: float) -> StateDict:
    """Return `(1 - alpha) · x + alpha · y`, key by key (FedAsync's mixing step)."""
    return {k: _restore(_compute(x[k]) * (1 - alpha) + _compute(y[k]) * alpha, x[k]) for k in x}


def weighted_mean(state_dicts: Sequence[StateDict], weights: Sequence[float]) -> StateDict:
    """Return `Σ w_i · sd_i / Σ w_i`, key by key.

    The weights are normalised in Python floats (exactly summed with
    `math.fsum`) before they touch a tensor.

    Args:
        state_dicts: at least one state dict; all share keys and shapes.
        weights: one weight per state dict, non-negative, with a positive sum.

    Raises:
        IndexError: `state_dicts` is empty.
        ValueError: the two sequences differ in length.
        ZeroDivisionError: the weights sum to zero.
        (All three are caller bugs: servers validate their updates first, see
        `actors.server.aggregators.base.check_updates`.)
    """
    total = math.fsum(weights)
    coefficients = [w / total for w in weights]
    first = state_dicts[0]
    return {k: _restore(_combine(state_dicts, coefficients, k), first[k]) for k in first}


def _combine(state_dicts: Sequence[StateDict], coefficients: list[float], key: str) -> torch.Tensor:
    # Accumulate in place: one extra tensor per key, however many clients reported.
    total = _compute(state_dicts[0][key]) * coefficients[0]
    for sd, c in zip(state_dicts[1:], coefficients[1:], strict=True):
        total.add_(_compute(sd[key]), alpha=c)
    return total


def mean(state_dicts: Sequence[StateDict]) -> StateDict:
    """Return the unweighted mean, key by key."""
    return weighted_mean(state_dicts, [1.0] * len(state_dicts))


def coordinatewise(
    state_dicts: Sequence[StateDict], reduce: Callable[[torch.Tensor], torch.Tensor]
) -> StateDict:
    """Apply `reduce` to each key's tensors stacked along a new dim 0 (one row per dict).

    `reduce` gets a tensor of shape `(len(state_dicts), *shape)` and returns one
    of `shape`; it runs under the module's dtype rule (non-floating tensors
    arrive as float64 and their result is rounded back).
    """
    first = state_dicts[0]
    return {
        k: _restore(reduce(torch.stack([_compute(sd[k]) for sd in state_dicts])), first[k]) for k in first
    }


def flatten(sd: StateDict, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Concatenate every tensor, in key order, into one 1-D tensor of `dtype`."""
    if not sd:
        return torch.zeros(0, dtype=dtype)
    return torch.cat([t.reshape(-1).to(dtype) for t in sd.values()])


def unflatten(flat: torch.Tensor, reference: StateDict) -> StateDict:
    """Inverse of `flatten`: cut `flat` into the keys, shapes and dtypes of `reference`.

    Raises:
        StateDictMismatchError: `flat` does not have exactly as many elements
            as `reference`.
    """
    expected = sum(t.numel() for t in reference.values())
    if flat.dim() != 1 or flat.numel() != expected:
        raise StateDictMismatchError("flat vector", "<all>", (expected,), tuple(flat.shape))
    # Cloned so that the result shares no memory with `flat`, like every other helper's.
    pieces = torch.split(flat.clone(), [t.numel() for t in reference.values()])
    return {
        k: _restore(piece.reshape(t.shape), t)
        for (k, t), piece in zip(reference.items(), pieces, strict=True)
    }


def global_norm(sd: StateDict) -> float:
    """L2 norm of all floating tensors taken together, computed in float64.

    Non-floating tensors (counters) are skipped; see the module's dtype rule.
    """
    norms = [_norm64(t) for t in sd.values() if is_floating(t)]
    if not norms:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(norms)).item())


def _norm64(tensor: torch.Tensor) -> torch.Tensor:
    magnitudes = tensor.abs() if tensor.is_complex() else tensor
    norm: torch.Tensor = torch.linalg.vector_norm(magnitudes, dtype=torch.float64)
    return norm


def zeros_like(sd: StateDict) -> StateDict:
    """Return a state dict of zeros with the keys, shapes and dtypes of `sd`."""
    return {k: torch.zeros_like(t) for k, t in sd.items()}


def clone(sd: StateDict) -> StateDict:
    """Return a copy of `sd` that shares no memory and no autograd history with it."""
    return {k: t.detach().clone() for k, t in sd.items()}


def check_same_keys_and_shapes(reference: StateDict, other: Mapping[str, torch.Tensor], who: str) -> None:
    """Check that `other` has exactly the keys of `reference`, each with the same shape.

    Dtypes are not compared: a client may send float16 deltas for a float32
    model, and the helpers cast results to the reference's dtype.

    Args:
        reference: the state dict that is right by definition (the global model).
        other: the state dict that arrived.
        who: names `other` in the error message, e.g. "update 3".

    Raises:
        StateDictMismatchError: a key is missing or unexpected, or a shape differs.
    """
    if reference.keys() != other.keys():
        missing = sorted(reference.keys() - other.keys())
        unexpected = sorted(other.keys() - reference.keys())
        raise StateDictMismatchError(who, None, missing, unexpected)
    for key, tensor in reference.items():
        if other[key].shape != tensor.shape:
            raise StateDictMismatchError(who, key, tuple(tensor.shape), tuple(other[key].shape))


def checked_model(model: StateDict, tree: Mapping[str, torch.Tensor], what: str) -> StateDict:
    """`tree`, read from a checkpoint, as a state dict with `model`'s keys, shapes and dtypes.

    Raises:
        StateDictMismatchError: other keys or shapes.
        ValueError: another dtype for some key.
    """
    candidate = dict(tree)
    check_same_keys_and_shapes(model, candidate, who=f"{what} in the checkpoint")
    wrong = sorted(k for k, t in model.items() if candidate[k].dtype != t.dtype)
    if wrong:
        raise ValueError(f"{what} in the checkpoint has other dtypes than the model for {wrong}")
    return candidate
