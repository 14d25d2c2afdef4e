import numpy as np
import pytest

from sims.data.partitions import (
    MAX_DIRICHLET_DRAWS,
    PARTITIONERS,
    dirichlet_partition,
    iid_partition,
    largest_remainder,
    powerlaw_partition,
    shards_partition,
)
from sims.errors import DataError
from topologies.specs.data import (
    DirichletPartitionSpec,
    IidPartitionSpec,
    PowerLawPartitionSpec,
    ShardsPartitionSpec,
)

SPECS = [
    IidPartitionSpec(),
    DirichletPartitionSpec(alpha=0.3),
    ShardsPartitionSpec(shards_per_client=2),
    PowerLawPartitionSpec(exponent=1.5),
]


def _labels(num_classes: int = 10, per_class: int = 100, seed: int = 0) -> np.ndarray:
    # Unequal class sizes, shuffled, as in real datasets.
    rng = np.random.default_rng(seed)
    counts = per_class + rng.integers(-per_class // 4, per_class // 4, num_classes)
    return rng.permutation(np.repeat(np.arange(num_classes), counts))


def _label_skew(labels: np.ndarray, parts: list[np.ndarray], num_classes: int) -> float:
    """Mean total-variation distance between each client's label mix and the global one."""
    overall = np.bincount(labels, minlength=num_classes) / len(labels)
    distances = [
        0.5 * np.abs(np.bincount(labels[p], minlength=num_classes) / len(p) - overall).sum() for p in parts
    ]
    return float(np.mean(distances))


def test_registry_covers_every_label_based_partition_kind() -> None:
    assert set(PARTITIONERS) == {spec.kind for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.kind)
def test_each_partitioner_gives_disjoint_sorted_parts_covering_every_sample_once(spec) -> None:
    labels = _labels()

    parts = PARTITIONERS[spec.kind](labels, 20, spec, np.random.default_rng(1))

    assert len(parts) == 20
    assert all(p.dtype == np.int64 and np.all(np.diff(p) > 0) for p in parts)
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(len(labels)))
    assert min(len(p) for p in parts) >= 1


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.kind)
def test_each_partitioner_is_deterministic_for_a_seed_and_varies_across_seeds(spec) -> None:
    labels = _labels()

    def split(seed: int) -> list[np.ndarray]:
        return PARTITIONERS[spec.kind](labels, 20, spec, np.random.default_rng(seed))

    for a, b in zip(split(3), split(3), strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(split(3), split(4), strict=True))


def test_iid_partition_sizes_differ_by_at_most_one() -> None:
    labels = _labels()

    parts = iid_partition(labels, 7, IidPartitionSpec(), np.random.default_rng(0))

    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_dirichlet_label_skew_decreases_as_alpha_grows() -> None:
    labels = _labels(per_class=400)

    def skew(alpha: float) -> float:
        spec = DirichletPartitionSpec(alpha=alpha)
        runs = [dirichlet_partition(labels, 20, spec, np.random.default_rng(s)) for s in range(3)]
        return float(np.mean([_label_skew(labels, parts, 10) for parts in runs]))

    skews = [skew(alpha) for alpha in (0.05, 0.5, 5.0, 500.0)]

    assert skews == sorted(skews, reverse=True)
    assert skews[0] > 0.6
    assert skews[-1] < 0.1


def test_dirichlet_resamples_until_every_client_holds_the_minimum() -> None:
    labels = _labels()
    # With alpha = 0.1 only ~7% of single draws give each of 20 clients >= 10 samples.
    spec = DirichletPartitionSpec(alpha=0.1, min_samples_per_client=10)

    parts = dirichlet_partition(labels, 20, spec, np.random.default_rng(0))

    assert min(len(p) for p in parts) >= 10


def test_dirichlet_gives_up_with_a_clear_error_when_the_minimum_is_unreachable() -> None:
    labels = np.repeat(np.arange(2), 20)
    spec = DirichletPartitionSpec(alpha=0.001, min_samples_per_client=2)

    with pytest.raises(DataError, match=f"no draw out of {MAX_DIRICHLET_DRAWS}") as info:
        dirichlet_partition(labels, 20, spec, np.random.default_rng(0))

    assert info.value.where == "partition 'dirichlet'"
    assert "raise alpha" in info.value.reason


def test_shards_give_each_client_at_most_k_labels_and_near_equal_shards() -> None:
    labels = _labels(per_class=120)
    for k in (1, 2, 3):
        parts = shards_partition(
            labels, 25, ShardsPartitionSpec(shards_per_client=k), np.random.default_rng(k)
        )

        assert max(len(np.unique(labels[p])) for p in parts) <= k
        # ~1,000 samples in 25*k shards: shard sizes are within one class-rounding of n/(25k).
        sizes = [len(p) for p in parts]
        assert max(sizes) / min(sizes) < 1.6


def test_shards_refuse_fewer_shards_than_classes() -> None:
    labels = _labels()

    with pytest.raises(DataError, match=r"4 shards must lie between the number of classes \(10\)"):
        shards_partition(labels, 2, ShardsPartitionSpec(shards_per_client=2), np.random.default_rng(0))


def test_powerlaw_sizes_follow_the_rank_power_law_exactly_up_to_rounding() -> None:
    labels = _labels()
    spec = PowerLawPartitionSpec(exponent=1.2, min_samples_per_client=3)

    parts = powerlaw_partition(labels, 10, spec, np.random.default_rng(0))

    sizes = np.sort([len(p) for p in parts])[::-1]
    shares = np.arange(1, 11) ** -1.2
    expected = 3 + (len(labels) - 30) * shares / shares.sum()
    assert np.abs(sizes - expected).max() < 1
    assert sizes.sum() == len(labels)


def test_powerlaw_with_exponent_zero_gives_equal_sizes() -> None:
    labels = _labels()

    parts = powerlaw_partition(labels, 8, PowerLawPartitionSpec(exponent=0), np.random.default_rng(0))

    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_powerlaw_keeps_labels_iid_on_the_largest_client() -> None:
    labels = _labels(per_class=1000)

    parts = powerlaw_partition(labels, 10, PowerLawPartitionSpec(exponent=1.0), np.random.default_rng(0))

    largest = max(parts, key=len)
    assert _label_skew(labels, [largest], 10) < 0.05


def test_largest_remainder_sums_to_the_total_and_rounds_toward_the_exact_shares() -> None:
    sizes = largest_remainder(10, np.array([1.0, 1.0, 1.0]))

    assert sizes.sum() == 10
    assert sorted(sizes) == [3, 3, 4]


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.kind)
def test_each_partitioner_refuses_more_clients_than_samples(spec) -> None:
    labels = np.arange(5) % 2

    with pytest.raises(DataError, match=f"partition '{spec.kind}'"):
        PARTITIONERS[spec.kind](labels, 6, spec, np.random.default_rng(0))
