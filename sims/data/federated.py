"""Build a simulated federation's data: `sims.data.split`'s split, handed out as tensors.

`build_federated_data` is deterministic for a seed (see `sims.data.split`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sims.data.split import split_dataset
from topologies.specs.data import DataSpec, PartitionSpec


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
    """`split_dataset`'s split (same arguments), each client's samples as tensors.

    Raises:
        DataError: as `split_dataset`: the dataset cannot be loaded, the
            partition does not fit it, or a client would have no sample.
    """
    split = split_dataset(data, partition, num_clients, seed)
    loaded, parts = split.loaded, split.parts
    return FederatedData(
        clients=[ClientData(_tensor(loaded.train_x[p]), _tensor(loaded.train_y[p])) for p in parts],
        test_x=_tensor(loaded.test_x),
        test_y=_tensor(loaded.test_y),
        input_shape=loaded.input_shape,
        num_classes=loaded.num_classes,
    )


def _tensor(array: np.ndarray) -> torch.Tensor:
    # torch.from_numpy warns on read-only arrays; np.require copies only those.
    return torch.from_numpy(np.require(array, requirements=["C", "W"]))
