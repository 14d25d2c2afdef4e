"""Load a dataset and split its training set over the clients, as numpy arrays (no torch).

`split_dataset` is what `sims.data.federated.build_federated_data` hands out
as tensors, and what `fedactors validate` checks without importing torch.
The seed is split with `np.random.SeedSequence(seed).spawn(2)` into one
generator for the dataset (synthetic draws, train/test split) and one for the
partition, so changing the partition does not change the data. A `custom`
loader receives the seed itself. Nothing is cached between calls.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, assert_never

import numpy as np

from sims.data import LoadedData
from sims.data.partitions import PARTITIONERS
from sims.errors import DataError
from topologies.errors import ImportPathError
from topologies.imports import resolve_import
from topologies.specs.data import (
    CustomDataSpec,
    DataSpec,
    DigitsDataSpec,
    FashionMnistDataSpec,
    LeafDataSpec,
    MnistIdxDataSpec,
    NaturalPartitionSpec,
    PartitionSpec,
    SyntheticDataSpec,
)


# eq=False: == on arrays has no single truth value; compare fields instead.
@dataclass(frozen=True, eq=False)
class SplitData:
    """The loaded dataset and each client's indices into its training set."""

    loaded: LoadedData
    parts: list[np.ndarray]


def split_dataset(data: DataSpec, partition: PartitionSpec, num_clients: int, seed: int) -> SplitData:
    """Load `data` and split its training set over `num_clients` clients.

    Args:
        data: the `[data]` declaration.
        partition: how to split; usually `data.partition`, passed apart so a
            sweep can vary it alone.
        num_clients: the topology's number of clients.
        seed: the run's seed; the same seed gives the same split.

    Raises:
        DataError: the dataset cannot be loaded, the partition does not fit
            the dataset (e.g. `natural` with num_clients != its users), or a
            client would be left without samples.
    """
    data_rng, partition_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    loaded = load_dataset(data, data_rng, seed)
    parts = _split(loaded, partition, num_clients, partition_rng, data.kind)
    empty = [client for client, part in enumerate(parts) if len(part) == 0]
    if empty:
        raise DataError(
            f"data {data.kind!r}",
            f"partition {partition.kind!r} leaves clients {empty[:10]} without samples; "
            "use fewer clients or another partition",
        )
    return SplitData(loaded, parts)


def load_dataset(data: DataSpec, rng: np.random.Generator, seed: int) -> LoadedData:
    """Load the declared dataset as numpy arrays; each loader is imported when a file names it
    (a few tens of ms each at start-up otherwise).

    Raises:
        DataError: the files are missing or malformed, or a custom loader
            returned something other than four arrays.
    """
    match data:
        case SyntheticDataSpec():
            from sims.data.synthetic import load_synthetic

            return load_synthetic(data, rng)
        case DigitsDataSpec():
            from sims.data.digits import load_digits

            return load_digits(data, rng)
        case LeafDataSpec():
            from sims.data.leaf import load_leaf

            return load_leaf(data)
        case MnistIdxDataSpec() | FashionMnistDataSpec():
            from sims.data.mnist_idx import load_mnist_idx

            return load_mnist_idx(data)
        case CustomDataSpec():
            return load_custom(data, seed)
        case _:
            assert_never(data)


def load_custom(spec: CustomDataSpec, seed: int) -> LoadedData:
    """Call the user's `f(seed, **options) -> (train_x, train_y, test_x, test_y)`.

    Raises:
        DataError: the path no longer imports, or the result is not four
            arrays of matching lengths with non-negative integer labels.
    """
    where = f"custom data {spec.path!r}"
    try:
        loader = resolve_import(spec.path)
    except ImportPathError as exc:
        raise DataError(where, exc.reason) from exc
    result = loader(seed, **spec.options)
    if not isinstance(result, tuple | list) or len(result) != 4:
        raise DataError(where, f"expected (train_x, train_y, test_x, test_y), got {type(result).__name__}")
    train_x, train_y, test_x, test_y = (_numpy(part) for part in result)
    return LoadedData.from_arrays(where, (train_x, train_y), (test_x, test_y))


def _split(
    loaded: LoadedData,
    partition: PartitionSpec,
    num_clients: int,
    rng: np.random.Generator,
    kind: str,
) -> list[np.ndarray]:
    if not isinstance(partition, NaturalPartitionSpec):
        return PARTITIONERS[partition.kind](loaded.train_y, num_clients, partition, rng)
    if loaded.users is None:
        raise DataError(
            f"data {kind!r}",
            "partition 'natural' needs a dataset with users (synthetic, leaf); "
            "use 'iid', 'dirichlet', 'shards' or 'powerlaw'",
        )
    if len(loaded.users) != num_clients:
        raise DataError(
            f"data {kind!r}",
            f"partition 'natural' gives one client per user: the dataset has "
            f"{len(loaded.users)} users, the topology {num_clients} clients; make them equal "
            "or choose another partition",
        )
    return list(loaded.users)


def _numpy(value: Any) -> Any:
    torch = sys.modules.get("torch")  # a loader that returns tensors has imported torch itself
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value
