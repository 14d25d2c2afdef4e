"""scikit-learn's 8x8 handwritten digits (UCI optdigits test set), bundled, no download.

1797 samples of 64 pixel intensities 0..16, scaled to [0, 1]; 10 classes.
Split into train and test per class, so both keep the class proportions.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from sims.data import LoadedData
from sims.errors import DataError
from topologies.specs.data import DigitsDataSpec

_MAX_INTENSITY = 16.0
_NUM_CLASSES = 10


def load_digits(spec: DigitsDataSpec, rng: np.random.Generator) -> LoadedData:
    """Load the bundled digits and split them with `stratified_split`.

    Raises:
        DataError: scikit-learn (which bundles the file) is not installed.
    """
    table = _bundled_digits()
    x = (table[:, :-1] / _MAX_INTENSITY).astype(np.float32)
    y = table[:, -1].astype(np.int64)
    train, test = stratified_split(y, spec.test_fraction, rng)
    return LoadedData(x[train], y[train], x[test], y[test], num_classes=_NUM_CLASSES)


def _bundled_digits() -> np.ndarray:
    """The rows of scikit-learn's `digits.csv.gz` (64 pixels, then the label), read as
    `sklearn.datasets.load_digits` reads them, without importing scikit-learn: its
    import costs a node process about a second at start-up, the file ~20 ms."""
    spec = importlib.util.find_spec("sklearn")  # finds the package without running it
    if spec is None or spec.origin is None:
        raise DataError("digits", "the digits come bundled with scikit-learn: pip install scikit-learn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, mode="rt", encoding="utf-8") as rows:
        return np.loadtxt(rows, delimiter=",")


def stratified_split(
    labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices; each class sends round(test_fraction * count) to test."""
    train_parts, test_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        num_test = round(test_fraction * len(members))
        test_parts.append(members[:num_test])
        train_parts.append(members[num_test:])
    return np.sort(np.concatenate(train_parts)), np.sort(np.concatenate(test_parts))
