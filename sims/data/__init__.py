"""Datasets and partitions for simulated federations.

Each loader (`synthetic`, `digits`, `leaf`, `mnist_idx`) returns a
`LoadedData`: the pooled train and test sets as numpy arrays, plus the
dataset's own users when it has them. `sims.data.federated.build_federated_data`
splits the training set over the clients with a partitioner from
`sims.data.partitions` and hands out torch tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sims.errors import DataError


# eq=False: == on arrays/tensors has no single truth value; compare fields instead.
@dataclass(frozen=True, eq=False)
class LoadedData:
    """A dataset as loaded, before it is split over clients.

    Attributes:
        train_x: float32, shape (n, *input_shape).
        train_y: int64 labels in [0, num_classes), shape (n,).
        test_x: float32, shape (m, *input_shape).
        test_y: int64, shape (m,).
        num_classes: number of classes the model must output.
        users: the dataset's own users, as index arrays into the training set;
            None when the dataset has none.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int
    users: tuple[np.ndarray, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.train_x.shape[1:])

    @classmethod
    def from_arrays(
        cls,
        where: str,
        train: tuple[Any, Any],
        test: tuple[Any, Any],
        users: tuple[np.ndarray, ...] | None = None,
    ) -> LoadedData:
        """Check and convert arrays from an outside source; classes = largest label + 1.

        Raises:
            DataError: lengths or feature shapes disagree, features are not
                finite, labels are not non-negative integers, or there is no
                training sample.
        """
        train_x, train_y = _features(where, "train", train[0]), _labels(where, "train", train[1])
        test_x, test_y = _features(where, "test", test[0]), _labels(where, "test", test[1])
        _check_lengths(where, "train", train_x, train_y)
        _check_lengths(where, "test", test_x, test_y)
        if len(train_y) == 0:
            raise DataError(where, "the training set is empty")
        if len(test_y) and test_x.shape[1:] != train_x.shape[1:]:
            raise DataError(
                where,
                f"test features have shape {test_x.shape[1:]}, "
                f"train features {train_x.shape[1:]}; they must agree",
            )
        num_classes = int(max(train_y.max(), test_y.max(initial=0))) + 1
        return cls(train_x, train_y, test_x, test_y, num_classes, users)


def _features(where: str, split: str, values: Any) -> np.ndarray:
    try:
        x = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DataError(where, f"{split} features are not numeric arrays ({exc})") from exc
    if x.ndim < 2:
        raise DataError(where, f"{split} features must have shape (n, ...), got {x.shape}")
    if not np.isfinite(x).all():
        raise DataError(where, f"{split} features contain NaN or infinity")
    return x


def _labels(where: str, split: str, values: Any) -> np.ndarray:
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise DataError(where, f"{split} labels are not an array ({exc})") from exc
    if raw.ndim != 1 or not np.issubdtype(raw.dtype, np.number):
        raise DataError(
            where, f"{split} labels must be a 1-D numeric array, got {raw.dtype} of shape {raw.shape}"
        )
    y = raw.astype(np.int64)
    if not np.array_equal(y, raw) or (y < 0).any():
        raise DataError(where, f"{split} labels must be non-negative integers")
    return y


def _check_lengths(where: str, split: str, x: np.ndarray, y: np.ndarray) -> None:
    if len(x) != len(y):
        raise DataError(where, f"{len(x)} {split} samples but {len(y)} {split} labels")
