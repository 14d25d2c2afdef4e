"""Build a simulated federation's data: load a dataset, split it over clients, as tensors.

`build_federated_data` is deterministic for a seed. The seed is split with
`np.random.SeedSequence(seed).spawn(2)` into one generator for the dataset
(synthetic draws, train/test split) and one for the partition, so changing
the partition does not change the data. A `custom` loader receives the seed
itself. Nothing is cached between calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_never

import numpy as np
import torch

from sims.data import LoadedData
from sims.data.digits import load_digits
from sims.data.leaf import load_leaf
from sims.data.mnist_idx import load_mnist_idx
from sims.data.partitions import PARTITIONERS
from sims.data.synthetic import load_synthetic
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


# eq=False: == on arrays/tensors has no single truth value; compare fields instead.
@dataclass(frozen=True, eq=False)
class ClientData:
    """One client's training samples: x float32 (n, *input_shape), y int64 (n,)."""

    x: torch.Tensor
    y: torch.Tensor

    @property
    def num_samples(self) -> int:
        return len(self.y)


@dataclass(frozen=True, eq=False)
class FederatedData:
    """Every client's training data and the shared test set."""

    clients: list[ClientData]
    test_x: torch.Tensor
    test_y: torch.Tensor
    input_shape: tuple[int, ...]
    num_classes: int


def build_federated_data(
    data: DataSpec, partition: PartitionSpec, num_clients: int, seed: int
) -> FederatedData:
    """Load `data` and split its training set over `num_clients` clients.

    Args:
        data: the `[data]` declaration.
        partition: how to split; usually `data.partition`, passed apart so a
            sweep can vary it alone.
        num_clients: the topology's number of clients.
        seed: the run's seed; the same seed gives the same tensors.

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
    return FederatedData(
        clients=[ClientData(_tensor(loaded.train_x[p]), _tensor(loaded.train_y[p])) for p in parts],
        test_x=_tensor(loaded.test_x),
        test_y=_tensor(loaded.test_y),
        input_shape=loaded.input_shape,
        num_classes=loaded.num_classes,
    )


def load_dataset(data: DataSpec, rng: np.random.Generator, seed: int) -> LoadedData:
    """Load the declared dataset as numpy arrays.

    Raises:
        DataError: the files are missing or malformed, or a custom loader
            returned something other than four arrays.
    """
    match data:
        case SyntheticDataSpec():
            return load_synthetic(data, rng)
        case DigitsDataSpec():
            return load_digits(data, rng)
        case LeafDataSpec():
            return load_leaf(data)
        case MnistIdxDataSpec() | FashionMnistDataSpec():
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
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return value


def _tensor(array: np.ndarray) -> torch.Tensor:
    # torch.from_numpy warns on read-only arrays; np.require copies only those.
    return torch.from_numpy(np.require(array, requirements=["C", "W"]))
