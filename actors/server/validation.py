"""What every update must pass before an algorithm sees it.

The codec already refuses frames that do not decode; this is the second
boundary, where a well-formed `Update` (or `Join`) is checked against the run:

| reason | the update... |
|---|---|
| `unknown_sender` | comes from an actor the topology does not put under this server |
| `duplicate` | answers a task that was already answered |
| `late` | answers a task of its sender that expired (`task_timeout_s`) before it came |
| `unknown_task` | answers no task of its sender now in flight (re-issued, never issued) |
| `future_version` | claims a base version the server has not made yet |
| `invalid_field` | has `num_samples` < 1 or a negative base version |
| `not_a_state_dict` | carries something other than a dict of tensors |
| `shape_mismatch` | has other keys or shapes than the model |
| `dtype_mismatch` | has another dtype than the model for some key |
| `nan`, `inf` | holds a NaN or an infinite value |
| `norm_too_large` | is further than `max_norm` (L2) from the global model |

A rejected update is dropped by the server (`update_dropped` with the reason);
here it is counted per reason and logged. The log is sampled so that a flood of
bad updates cannot become a flood of log lines: the first
`LOG_FIRST_REJECTIONS` rejections of a reason are each logged, then only the
16th, 32nd, 64th, ... (with the running count). The event log still has every one.
A `late` update is ordinary (a straggler past its timeout): counted, logged at debug only.
"""

from __future__ import annotations

from collections import Counter

import torch
from structlog.typing import FilteringBoundLogger

from actors.configs.servers import ValidationConfig
from actors.protocol import Update
from actors.relays import Rejection
from actors.statedict import StateDict, StateDictMismatchError, check_same_keys_and_shapes, global_norm, sub

LOG_FIRST_REJECTIONS = 10  # then every power of two: a flood of 10^6 costs ~30 log lines per reason


class UpdateValidator:
    """Checks updates for one server, remembers answered tasks, counts rejections.

    Args:
        config: the server's `[server.validation]` table.
        expected_clients: the only senders accepted (None: anyone).
    """

    def __init__(self, config: ValidationConfig, expected_clients: frozenset[str] | None = None) -> None:
        self.config = config
        self.expected_clients = expected_clients
        self.rejected: Counter[str] = Counter()
        self._answered: dict[int, None] = {}  # insertion-ordered set, oldest first
        self._expired: dict[int, None] = {}  # the same, of tasks that timed out

    def sender_rejection(self, sender: str) -> Rejection | None:
        """`unknown_sender` if `sender` is not one of the expected clients."""
        if self.expected_clients is None or sender in self.expected_clients:
            return None
        return Rejection("unknown_sender", f"{sender!r} is not a child of this server in the topology")

    def check(
        self, sender: str, update: Update, in_flight: int | None, params: StateDict, version: int
    ) -> Rejection | None:
        """The first reason to refuse `update` from `sender`, or None to accept it.

        Args:
            in_flight: the task id `sender` is working on (None: none).
            params: the global model now.
            version: the global model's version now.
        """
        return (
            self.sender_rejection(sender)
            or self._task_rejection(update.task_id, in_flight)
            or _field_rejection(update, version)
            or self._tensor_rejection(sender, update, params)
        )

    def remember(self, task_id: int) -> None:
        """Note that `task_id` was answered (a second answer is then a `duplicate`)."""
        _remember(self._answered, task_id, self.config.remembered_tasks)

    def expired(self, task_id: int) -> None:
        """Note that `task_id` timed out (its answer, if it comes, is then `late`)."""
        _remember(self._expired, task_id, self.config.remembered_tasks)

    def report(self, log: FilteringBoundLogger, client: str, rejection: Rejection) -> None:
        """Count `rejection` and log it (sampled; see the module docstring)."""
        self.rejected[rejection.reason] += 1
        count = self.rejected[rejection.reason]
        if rejection.reason == "late":
            log.debug("update_rejected", client=client, reason="late", detail=rejection.detail, count=count)
        elif count <= LOG_FIRST_REJECTIONS or count & (count - 1) == 0:
            log.warning(
                "update_rejected",
                client=client,
                reason=rejection.reason,
                detail=rejection.detail,
                count=count,
            )

    def _task_rejection(self, task_id: int, in_flight: int | None) -> Rejection | None:
        if in_flight == task_id:
            return None
        if task_id in self._answered:
            return Rejection("duplicate", f"task {task_id} was already answered")
        if task_id in self._expired:
            return Rejection("late", f"task {task_id} timed out before its update came")
        return Rejection("unknown_task", f"task {task_id} is not in flight (in flight: {in_flight})")

    def _tensor_rejection(self, sender: str, update: Update, params: StateDict) -> Rejection | None:
        weights = update.weights
        if not isinstance(weights, dict) or not all(isinstance(t, torch.Tensor) for t in weights.values()):
            got = type(weights).__name__
            return Rejection("not_a_state_dict", f"a dict of str -> tensor, got a {got} that is not")
        try:
            check_same_keys_and_shapes(params, weights, who=f"update from {sender!r}")
        except StateDictMismatchError as exc:
            return Rejection("shape_mismatch", str(exc))
        return (
            _dtype_rejection(params, weights, self.config.dtypes)
            or _finite_rejection(weights)
            or self._norm_rejection(update, params)
        )

    def _norm_rejection(self, update: Update, params: StateDict) -> Rejection | None:
        if self.config.max_norm is None:
            return None
        delta = update.weights if update.is_delta else sub(update.weights, params)
        norm = global_norm(delta)
        if norm <= self.config.max_norm:
            return None
        what = "delta" if update.is_delta else "weights - global model"
        limit = self.config.max_norm
        return Rejection("norm_too_large", f"L2 norm of the {what} is {norm:.4g}, above max_norm {limit}")


def _field_rejection(update: Update, version: int) -> Rejection | None:
    if update.base_version > version:
        return Rejection("future_version", f"base version {update.base_version} > server version {version}")
    if update.base_version < 0 or update.num_samples < 1:
        return Rejection(
            "invalid_field",
            f"base_version >= 0 and num_samples >= 1, got {update.base_version} and {update.num_samples}",
        )
    return None


def _dtype_rejection(params: StateDict, weights: StateDict, rule: str) -> Rejection | None:
    for key, reference in params.items():
        dtype = weights[key].dtype
        if dtype == reference.dtype:
            continue
        if rule == "floating" and dtype.is_floating_point and reference.dtype.is_floating_point:
            continue
        return Rejection("dtype_mismatch", f"key {key!r} has dtype {dtype}, the model has {reference.dtype}")
    return None


def _finite_rejection(weights: StateDict) -> Rejection | None:
    for key, tensor in weights.items():
        if not (tensor.is_floating_point() or tensor.is_complex()) or bool(torch.isfinite(tensor).all()):
            continue
        if bool(torch.isnan(tensor).any()):
            return Rejection("nan", f"key {key!r} holds NaN")
        return Rejection("inf", f"key {key!r} holds an infinite value")
    return None


def _remember(ids: dict[int, None], task_id: int, bound: int) -> None:
    """Add `task_id` to the insertion-ordered set `ids`, forgetting the oldest past `bound`."""
    ids[task_id] = None
    if len(ids) > bound:
        del ids[next(iter(ids))]
