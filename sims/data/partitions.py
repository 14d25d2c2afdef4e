"""Partitioners: split a training set's sample indices over clients.

Each partitioner takes the labels (np.ndarray, shape (n,)), the number of
clients, its spec and a numpy Generator, and returns one sorted int64 index
array per client. The arrays are disjoint and together cover every sample
exactly once. They are found through `PARTITIONERS`, keyed by the `kind` used
in topology files. The `natural` partition (the dataset's own users) needs
the users, not the labels, and lives in `sims.data.federated`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sims.errors import DataError
from topologies.specs.data import (
    DirichletPartitionSpec,
    IidPartitionSpec,
    PowerLawPartitionSpec,
    ShardsPartitionSpec,
)

Partitioner = Callable[[np.ndarray, int, Any, np.random.Generator], list[np.ndarray]]

# Each Dirichlet draw costs one permutation of the data (~1 ms per 60k samples),
# so a thousand redraws bound a hopeless request to about a second.
MAX_DIRICHLET_DRAWS = 1000


def iid_partition(
    labels: np.ndarray, num_clients: int, spec: IidPartitionSpec, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffle and deal: client sizes differ by at most one.

    Raises:
        DataError: fewer samples than clients.
    """
    _check_enough_samples("iid", len(labels), num_clients, 1)
    return _sorted(np.array_split(rng.permutation(len(labels)), num_clients))


def dirichlet_partition(
    labels: np.ndarray, num_clients: int, spec: DirichletPartitionSpec, rng: np.random.Generator
) -> list[np.ndarray]:
    """Label skew: each class is split over clients by proportions ~ Dirichlet(alpha).

    The standard allocation of Hsu, Qi, Brown (2019) as implemented in
    NIID-Bench (Li, Diao, Chen, He, ICDE 2022): a client that already holds
    n / num_clients samples takes no more, and the whole draw is repeated
    until every client holds at least `min_samples_per_client`.

    Raises:
        DataError: too few samples, or no draw out of MAX_DIRICHLET_DRAWS
            satisfied the minimum.
    """
    minimum = spec.min_samples_per_client
    _check_enough_samples("dirichlet", len(labels), num_clients, minimum)
    for _ in range(MAX_DIRICHLET_DRAWS):
        parts = _dirichlet_draw(labels, num_clients, spec.alpha, rng)
        if min(len(part) for part in parts) >= minimum:
            return _sorted(parts)
    raise DataError(
        "partition 'dirichlet'",
        f"no draw out of {MAX_DIRICHLET_DRAWS} gave each of {num_clients} clients "
        f">= {minimum} samples with alpha={spec.alpha}; raise alpha, "
        "or lower num_clients or min_samples_per_client",
    )


def shards_partition(
    labels: np.ndarray, num_clients: int, spec: ShardsPartitionSpec, rng: np.random.Generator
) -> list[np.ndarray]:
    """Pathological label skew (McMahan et al., AISTATS 2017): k shards per client.

    Each class is cut into shards of its own, so no shard straddles two
    labels and a client sees at most k labels; shards are given to classes
    one at a time, to the class whose shards are then largest (D'Hondt), so
    shard sizes are as equal as the class sizes allow.

    Raises:
        DataError: fewer shards than classes, or more shards than samples.
    """
    k = spec.shards_per_client
    num_shards = num_clients * k
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes) <= num_shards <= len(labels):
        raise DataError(
            "partition 'shards'",
            f"num_clients x shards_per_client = {num_shards} shards must lie between "
            f"the number of classes ({len(classes)}) and of samples ({len(labels)})",
        )
    shards: list[np.ndarray] = []
    for label, num_cuts in zip(classes, _dhondt(counts, num_shards), strict=True):
        members = rng.permutation(np.flatnonzero(labels == label))
        shards.extend(np.array_split(members, num_cuts))
    order = rng.permutation(num_shards)
    dealt = [order[c * k : (c + 1) * k] for c in range(num_clients)]
    return _sorted([np.concatenate([shards[s] for s in mine]) for mine in dealt])


def powerlaw_partition(
    labels: np.ndarray, num_clients: int, spec: PowerLawPartitionSpec, rng: np.random.Generator
) -> list[np.ndarray]:
    """Quantity skew with IID labels: the client of rank r holds a share ∝ r**-exponent.

    Ranks 1..num_clients are a random permutation of the clients. Each client
    first gets `min_samples_per_client`; the rest is shared by the power law,
    rounded by largest remainder so the sizes sum to n exactly.

    Raises:
        DataError: too few samples for the minimum.
    """
    minimum = spec.min_samples_per_client
    _check_enough_samples("powerlaw", len(labels), num_clients, minimum)
    ranks = rng.permutation(num_clients) + 1
    shares = ranks.astype(np.float64) ** -spec.exponent
    sizes = minimum + largest_remainder(len(labels) - minimum * num_clients, shares)
    cuts = np.cumsum(sizes)[:-1]
    return _sorted(np.split(rng.permutation(len(labels)), cuts))


PARTITIONERS: dict[str, Partitioner] = {
    "iid": iid_partition,
    "dirichlet": dirichlet_partition,
    "shards": shards_partition,
    "powerlaw": powerlaw_partition,
}


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer sizes ∝ weights that sum to total exactly (Hamilton's method)."""
    exact = total * weights / weights.sum()
    sizes: np.ndarray = np.floor(exact).astype(np.int64)
    shortfall = total - int(sizes.sum())
    sizes[np.argsort(sizes - exact, kind="stable")[:shortfall]] += 1
    return sizes


def _dirichlet_draw(
    labels: np.ndarray, num_clients: int, alpha: float, rng: np.random.Generator
) -> list[np.ndarray]:
    fair_share = len(labels) / num_clients
    parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
    sizes = np.zeros(num_clients, dtype=np.int64)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        raw = rng.dirichlet(np.full(num_clients, alpha))
        shares = np.where(sizes < fair_share, raw, 0.0)
        # With tiny alpha the open clients' shares can all underflow to zero.
        shares = shares if shares.sum() > 0 else raw
        cuts = (np.cumsum(shares / shares.sum()) * len(members)).astype(np.int64)[:-1]
        for client, chunk in enumerate(np.split(members, cuts)):
            parts[client].append(chunk)
            sizes[client] += len(chunk)
    return [np.concatenate(chunks) for chunks in parts]


def _dhondt(counts: np.ndarray, seats: int) -> np.ndarray:
    """Seats per class, at least one each; each next seat to the largest counts / seats."""
    allocated = np.ones(len(counts), dtype=np.int64)
    for _ in range(seats - len(counts)):
        allocated[np.argmax(counts / allocated)] += 1
    return allocated


def _check_enough_samples(kind: str, num_samples: int, num_clients: int, minimum: int) -> None:
    if num_clients < 1:
        raise DataError(f"partition {kind!r}", f"num_clients must be >= 1, got {num_clients}")
    if num_samples < num_clients * minimum:
        raise DataError(
            f"partition {kind!r}",
            f"{num_samples} samples cannot give each of {num_clients} clients >= {minimum}",
        )


def _sorted(parts: list[np.ndarray]) -> list[np.ndarray]:
    return [np.sort(part).astype(np.int64) for part in parts]
