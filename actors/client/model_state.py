"""A model's weights, loaded in place and copied out, at the cost of the copies alone.

A client loads the task's weights into its model and copies the trained ones
out for every task: a thousand times a run for each client. `load_state_dict`
and `state_dict` walk the module tree and run hooks on each call (100 µs for a
logistic regression, more than one SGD step of it); `ModelState` finds the
model's parameters and buffers once, then each call only checks that they are
still the same tensors (a dict lookup each) and copies. The result is the same
as `load_state_dict` / `state_dict`, bit for bit; a model whose saving or
loading is customised (state-dict hooks, `_load_from_state_dict` overridden,
extra state) is loaded and copied the standard way instead.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from actors.statedict import StateDict

# (key, the dict of the module that holds the tensor, its name there, the tensor)
_Entry = tuple[str, dict[str, torch.Tensor | None], str, torch.Tensor]


class ModelState:
    """Fast `load` and `copy` of `model`'s state dict (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._entries = _entries(model)

    def load(self, weights: Mapping[str, torch.Tensor]) -> None:
        """`model.load_state_dict(weights)` (strict), copying into the model's own tensors.

        Raises:
            RuntimeError: keys or shapes differ from the model's (`load_state_dict`'s error).
        """
        entries = self._current()
        if entries is None or len(weights) != len(entries) or not self._fits(entries, weights):
            self.model.load_state_dict(weights)
            return
        with torch.no_grad():
            for key, _, _, tensor in entries:
                tensor.copy_(weights[key])

    def copy(self, device: torch.device) -> StateDict:
        """The model's state dict as fresh tensors on the CPU (`state_dict()`, copied)."""
        entries = self._current()
        if entries is None:
            items = list(self.model.state_dict().items())
        else:
            items = [(key, tensor) for key, _, _, tensor in entries]
        # A copy either way: `to` copies off a GPU, `clone` on the CPU.
        if device.type == "cpu":
            return {k: v.detach().clone() for k, v in items}
        return {k: v.detach().to("cpu") for k, v in items}

    def _current(self) -> list[_Entry] | None:
        """The entries, found again if a module was given a new tensor since; None: the standard way."""
        entries = self._entries
        if entries is not None and any(owner.get(name) is not tensor for _, owner, name, tensor in entries):
            entries = self._entries = _entries(self.model)
        return entries

    @staticmethod
    def _fits(entries: list[_Entry], weights: Mapping[str, torch.Tensor]) -> bool:
        for key, _, _, tensor in entries:
            given = weights.get(key)
            if given is None or given.shape != tensor.shape:
                return False
        return True


def _entries(model: nn.Module) -> list[_Entry] | None:
    """Where each key of `model.state_dict()` lives; None if saving or loading is customised."""
    entries: list[_Entry] = []
    for prefix, module in model.named_modules(remove_duplicate=False):
        if _customised(module):
            return None
        dot = f"{prefix}." if prefix else ""
        for name, param in module._parameters.items():
            if param is not None:
                entries.append((dot + name, module._parameters, name, param))
        for name, buffer in module._buffers.items():
            if buffer is not None and name not in module._non_persistent_buffers_set:
                entries.append((dot + name, module._buffers, name, buffer))
    keys = [key for key, *_ in entries]
    return entries if keys == list(model.state_dict().keys()) else None


def _customised(module: nn.Module) -> bool:
    cls = type(module)
    return bool(
        module._state_dict_hooks
        or module._state_dict_pre_hooks
        or module._load_state_dict_pre_hooks
        or module._load_state_dict_post_hooks
        or cls._load_from_state_dict is not nn.Module._load_from_state_dict
        or cls._save_to_state_dict is not nn.Module._save_to_state_dict
        or cls.get_extra_state is not nn.Module.get_extra_state
    )
