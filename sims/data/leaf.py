"""LEAF JSON datasets (Caldas et al., "LEAF: A Benchmark for Federated Settings", 2018).

A LEAF file holds

    {"users": ["f_0", ...], "num_samples": [12, ...],
     "user_data": {"f_0": {"x": [[...], ...], "y": [3, ...]}, ...}}

and LEAF writes a split as a directory of such files; a path here may be one
file or a directory, whose `*.json` files are read in name order. Users keep
the order of their `users` lists. Features must be numeric (FEMNIST,
Synthetic, CelebA after preprocessing); the natural partition is one client
per training user, and the test users are pooled into one test set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from sims.data import LoadedData
from sims.errors import DataError
from topologies.specs.data import LeafDataSpec

UserSamples = tuple[str, np.ndarray, np.ndarray]


def load_leaf(spec: LeafDataSpec) -> LoadedData:
    """Load a LEAF train/test pair; `users` holds each training user's indices.

    Raises:
        DataError: a path is missing or malformed (see `read_leaf`), or
            feature shapes differ between users.
    """
    train_users = read_leaf(spec.train_path)
    test_users = read_leaf(spec.test_path)
    sizes = np.array([len(y) for _, _, y in train_users], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    users = tuple(np.arange(starts[i], starts[i + 1]) for i in range(len(sizes)))
    return LoadedData.from_arrays(
        str(spec.train_path),
        _pool(spec.train_path, train_users),
        _pool(spec.test_path, test_users),
        users,
    )


def read_leaf(path: Path) -> list[UserSamples]:
    """Every user's (name, x, y) in a LEAF file or directory of files.

    Raises:
        DataError: missing path, empty directory, invalid JSON, a missing
            key, non-numeric samples, counts that disagree with
            `num_samples`, or a user listed twice.
    """
    if not path.exists():
        raise DataError(str(path), "no such file or directory")
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DataError(str(path), "directory holds no .json files")
    users = [user for file in files for user in _read_file(file)]
    names = [name for name, _, _ in users]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise DataError(str(path), f"users listed more than once: {twice[:5]}")
    return users


def _read_file(file: Path) -> list[UserSamples]:
    try:
        document = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(str(file), f"cannot read LEAF JSON ({exc})") from exc
    if not isinstance(document, dict) or not {"users", "user_data"} <= document.keys():
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise DataError(str(file), f"expected a LEAF object with 'users' and 'user_data', found {found}")
    users = [_user_samples(file, name, document["user_data"]) for name in document["users"]]
    declared = document.get("num_samples")
    if declared is not None and list(declared) != [len(y) for _, _, y in users]:
        raise DataError(str(file), "'num_samples' disagrees with the lengths of the users' 'y'")
    return users


def _user_samples(file: Path, name: str, user_data: dict[str, Any]) -> UserSamples:
    record = user_data.get(name)
    if not isinstance(record, dict) or "x" not in record or "y" not in record:
        raise DataError(str(file), f"user {name!r} has no 'x' and 'y' in 'user_data'")
    try:
        x = np.asarray(record["x"], dtype=np.float32)
        y = np.asarray(record["y"])
    except (TypeError, ValueError) as exc:
        raise DataError(str(file), f"user {name!r}: samples are not numeric arrays ({exc})") from exc
    if len(x) != len(y):
        raise DataError(str(file), f"user {name!r} has {len(x)} samples but {len(y)} labels")
    return name, x, y


def _pool(path: Path, users: list[UserSamples]) -> tuple[np.ndarray, np.ndarray]:
    present = [(name, x, y) for name, x, y in users if len(y)]
    if not present:
        return np.empty((0, 1), dtype=np.float32), np.empty(0, dtype=np.int64)
    shape = present[0][1].shape[1:]
    for name, x, _ in present:
        if x.shape[1:] != shape:
            raise DataError(
                str(path),
                f"user {name!r} has features of shape {x.shape[1:]}, the first user {shape}",
            )
    return np.concatenate([x for _, x, _ in present]), np.concatenate([y for _, _, y in present])
