import numpy as np
import pytest

from sims.data.synthetic import feature_variances, generate_users, load_synthetic, sample_counts
from topologies.specs.data import SyntheticDataSpec


def _users(seed: int, **fields: object) -> list[tuple[np.ndarray, np.ndarray]]:
    return generate_users(SyntheticDataSpec(**fields), np.random.default_rng(seed))


def test_synthetic_users_have_declared_features_dtypes_and_label_range() -> None:
    users = _users(0, num_users=12, num_features=20, num_classes=5)

    assert len(users) == 12
    for x, y in users:
        assert x.dtype == np.float32
        assert y.dtype == np.int64
        assert x.shape == (len(y), 20)
        assert y.min() >= 0
        assert y.max() < 5


def test_synthetic_data_is_identical_for_the_same_seed() -> None:
    first = _users(7, num_users=5)
    second = _users(7, num_users=5)

    for (x1, y1), (x2, y2) in zip(first, second, strict=True):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)


def test_synthetic_data_differs_across_seeds() -> None:
    first = _users(1, num_users=5)
    second = _users(2, num_users=5)

    assert [len(y) for _, y in first] != [len(y) for _, y in second]
    assert not np.array_equal(first[0][0][:5], second[0][0][:5])


def test_synthetic_user_sizes_follow_leafs_clipped_lognormal_rule() -> None:
    spec = SyntheticDataSpec(num_users=2000, min_samples=5, max_samples=1000)

    counts = sample_counts(spec, np.random.default_rng(0))
    expected = np.minimum(np.floor(np.random.default_rng(0).lognormal(3.0, 2.0, 2000)) + 5, 1000).astype(
        np.int64
    )

    np.testing.assert_array_equal(counts, expected)
    assert counts.min() >= 5
    assert counts.max() == 1000
    # LogNormal(3, 2) has median e**3 ~ 20: half the users hold <= 25 samples.
    assert 20 <= np.median(counts) <= 30
    assert np.mean(counts == 1000) > 0.01


def test_synthetic_feature_variance_decays_as_j_to_the_minus_1_2() -> None:
    users = _users(3, num_users=4, min_samples=20_000, max_samples=20_000)

    centred = np.concatenate([x - x.mean(axis=0) for x, _ in users])
    variances = centred.var(axis=0)

    np.testing.assert_allclose(variances, feature_variances(60), rtol=0.05)
    assert feature_variances(60)[0] == 1.0
    assert feature_variances(60)[-1] == pytest.approx(60**-1.2)


def test_synthetic_users_share_feature_means_only_when_iid() -> None:
    def mean_spread(iid: bool) -> float:
        users = _users(4, num_users=10, min_samples=500, max_samples=500, iid=iid)
        means = np.stack([x.mean(axis=0) for x, _ in users])
        return float(means.std(axis=0).mean())

    assert mean_spread(iid=True) < 0.05
    assert mean_spread(iid=False) > 0.5


def test_synthetic_load_splits_each_user_and_keeps_users_as_index_ranges() -> None:
    spec = SyntheticDataSpec(num_users=6, test_fraction=0.25)
    users = generate_users(spec, np.random.default_rng(5))

    loaded = load_synthetic(spec, np.random.default_rng(5))

    assert loaded.num_classes == 10
    assert loaded.users is not None
    assert [len(u) for u in loaded.users] == [len(y) - int(0.25 * len(y)) for _, y in users]
    first_x, first_y = users[0]
    np.testing.assert_array_equal(loaded.train_x[loaded.users[0]], first_x[: len(loaded.users[0])])
    np.testing.assert_array_equal(loaded.train_y[loaded.users[0]], first_y[: len(loaded.users[0])])
    assert len(loaded.train_y) + len(loaded.test_y) == sum(len(y) for _, y in users)
