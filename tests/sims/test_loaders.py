import gzip
import json
import struct
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from sims.data.digits import load_digits
from sims.data.federated import build_federated_data
from sims.data.leaf import load_leaf, read_leaf
from sims.data.mnist_idx import load_mnist_idx, read_idx
from sims.errors import DataError
from topologies.specs.data import (
    FASHION_MNIST_DIR,
    CustomDataSpec,
    DigitsDataSpec,
    DirichletPartitionSpec,
    FashionMnistDataSpec,
    IidPartitionSpec,
    LeafDataSpec,
    MnistIdxDataSpec,
    NaturalPartitionSpec,
    ShardsPartitionSpec,
    SyntheticDataSpec,
)

# --- helpers ----------------------------------------------------------------


def _write_idx(path: Path, array: np.ndarray, type_code: int = 0x08) -> Path:
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(">u1").tobytes()
    path.write_bytes(gzip.compress(payload) if path.suffix == ".gz" else payload)
    return path


def _mnist_files(tmp_path: Path, suffix: str = "") -> tuple[MnistIdxDataSpec, dict[str, np.ndarray]]:
    arrays = {
        "train_images": np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5) * 4,
        "train_labels": np.array([7, 0, 9], dtype=np.uint8),
        "test_images": np.full((2, 4, 5), 255, dtype=np.uint8),
        "test_labels": np.array([1, 2], dtype=np.uint8),
    }
    paths = {name: _write_idx(tmp_path / f"{name}{suffix}", a) for name, a in arrays.items()}
    return MnistIdxDataSpec(**paths), arrays


def _write_leaf(path: Path, users: dict[str, tuple[list, list]]) -> Path:
    document = {
        "users": list(users),
        "num_samples": [len(y) for _, y in users.values()],
        "user_data": {name: {"x": x, "y": y} for name, (x, y) in users.items()},
    }
    path.write_text(json.dumps(document))
    return path


def _user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


# --- idx --------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_loader_round_trips_pixels_and_labels_exactly(tmp_path: Path, suffix: str) -> None:
    spec, arrays = _mnist_files(tmp_path, suffix)

    loaded = load_mnist_idx(spec)

    assert loaded.input_shape == (1, 4, 5)
    assert loaded.train_x.dtype == np.float32
    np.testing.assert_array_equal(loaded.train_x[:, 0], arrays["train_images"] / np.float32(255))
    np.testing.assert_array_equal(loaded.train_y, [7, 0, 9])
    np.testing.assert_array_equal(loaded.test_x, np.ones((2, 1, 4, 5), dtype=np.float32))
    np.testing.assert_array_equal(loaded.test_y, [1, 2])
    assert loaded.num_classes == 10
    assert loaded.users is None


def test_idx_reader_decodes_big_endian_dimensions_and_wider_types(tmp_path: Path) -> None:
    values = np.array([1, -2, 300_000], dtype=">i4")
    path = tmp_path / "ints.idx"
    path.write_bytes(bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 3) + values.tobytes())

    array = read_idx(path, ndim=1)

    np.testing.assert_array_equal(array, [1, -2, 300_000])


def test_idx_bad_magic_number_raises_data_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train-images"
    path.write_bytes(b"\x12\x34\x08\x03" + bytes(16))

    with pytest.raises(DataError, match="bad magic number 0x12340803: not an idx file") as info:
        read_idx(path, ndim=3)

    assert info.value.where == str(path)
    assert str(path) in str(info.value)


def test_idx_labels_file_given_as_images_is_refused_by_dimension_count(tmp_path: Path) -> None:
    path = _write_idx(tmp_path / "labels", np.array([1, 2, 3], dtype=np.uint8))

    with pytest.raises(DataError, match="1 dimensions, expected 3"):
        read_idx(path, ndim=3)


def test_idx_truncated_data_names_expected_and_found_sizes(tmp_path: Path) -> None:
    path = tmp_path / "images"
    path.write_bytes(bytes([0, 0, 8, 3]) + struct.pack(">3I", 2, 2, 2) + bytes(7))

    with pytest.raises(DataError, match=r"dims \(2, 2, 2\) need 8 bytes of data, found 7"):
        read_idx(path, ndim=3)


def test_idx_image_and_label_counts_must_agree(tmp_path: Path) -> None:
    spec, _ = _mnist_files(tmp_path)
    _write_idx(spec.train_labels, np.array([1, 2], dtype=np.uint8))

    with pytest.raises(DataError, match="2 labels for 3 images"):
        load_mnist_idx(spec)


def test_missing_fashion_mnist_file_names_the_path_and_the_apt_package(tmp_path: Path) -> None:
    spec = FashionMnistDataSpec(train_images=tmp_path / "absent.gz")

    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist") as info:
        load_mnist_idx(spec)

    assert info.value.where == str(tmp_path / "absent.gz")


def test_fashion_mnist_defaults_point_into_the_debian_package_directory() -> None:
    spec = FashionMnistDataSpec()

    assert spec.train_images == Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    assert spec.test_labels.parent == FASHION_MNIST_DIR


# --- leaf -------------------------------------------------------------------


def test_leaf_loader_round_trips_users_and_pools_the_test_set(tmp_path: Path) -> None:
    train = _write_leaf(
        tmp_path / "train.json",
        {"u1": ([[0.5, 1.0], [2.0, 3.0]], [1, 0]), "u2": ([[4.0, 5.5]], [3])},
    )
    test = _write_leaf(tmp_path / "test.json", {"u1": ([[9.0, 8.0]], [2]), "u2": ([[7.0, 6.0]], [0])})

    loaded = load_leaf(LeafDataSpec(train_path=train, test_path=test))

    np.testing.assert_array_equal(loaded.train_x, [[0.5, 1.0], [2.0, 3.0], [4.0, 5.5]])
    np.testing.assert_array_equal(loaded.train_y, [1, 0, 3])
    assert loaded.users is not None
    assert [u.tolist() for u in loaded.users] == [[0, 1], [2]]
    np.testing.assert_array_equal(loaded.test_x, [[9.0, 8.0], [7.0, 6.0]])
    np.testing.assert_array_equal(loaded.test_y, [2, 0])
    assert loaded.num_classes == 4


def test_leaf_directory_merges_its_json_files_in_name_order(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    _write_leaf(tmp_path / "train" / "b.json", {"late": ([[2.0]], [1])})
    _write_leaf(tmp_path / "train" / "a.json", {"early": ([[1.0]], [0])})

    users = read_leaf(tmp_path / "train")

    assert [name for name, _, _ in users] == ["early", "late"]


def test_leaf_file_without_user_data_raises_data_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"users": ["u1"], "num_samples": [1]}))

    with pytest.raises(DataError, match="expected a LEAF object with 'users' and 'user_data'") as info:
        read_leaf(path)

    assert info.value.where == str(path)


def test_leaf_num_samples_must_match_the_labels(tmp_path: Path) -> None:
    path = _write_leaf(tmp_path / "train.json", {"u1": ([[1.0]], [0])})
    document = json.loads(path.read_text())
    document["num_samples"] = [5]
    path.write_text(json.dumps(document))

    with pytest.raises(DataError, match="'num_samples' disagrees"):
        read_leaf(path)


def test_leaf_missing_path_raises_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or directory"):
        read_leaf(tmp_path / "nope")


# --- digits -----------------------------------------------------------------


def test_digits_load_scaled_features_with_a_stratified_split() -> None:
    loaded = load_digits(DigitsDataSpec(test_fraction=0.2), np.random.default_rng(0))

    assert len(loaded.train_y) + len(loaded.test_y) == 1797
    assert loaded.input_shape == (64,)
    assert loaded.train_x.dtype == np.float32
    assert loaded.train_x.min() == 0.0
    assert loaded.train_x.max() == 1.0
    assert loaded.num_classes == 10
    test_share = np.bincount(loaded.test_y) / (np.bincount(loaded.test_y) + np.bincount(loaded.train_y))
    np.testing.assert_allclose(test_share, 0.2, atol=0.01)


def test_digits_split_is_deterministic_per_seed_and_varies_across_seeds() -> None:
    spec = DigitsDataSpec()

    first = load_digits(spec, np.random.default_rng(1))
    again = load_digits(spec, np.random.default_rng(1))
    other = load_digits(spec, np.random.default_rng(2))

    np.testing.assert_array_equal(first.test_x, again.test_x)
    assert not np.array_equal(first.test_y, other.test_y)


# --- build_federated_data ---------------------------------------------------


def test_federated_synthetic_natural_partition_gives_one_client_per_user() -> None:
    spec = SyntheticDataSpec(num_users=8)

    data = build_federated_data(spec, spec.partition, num_clients=8, seed=0)

    assert len(data.clients) == 8
    assert data.input_shape == (60,)
    assert data.num_classes == 10
    assert data.clients[0].x.dtype == torch.float32
    assert data.clients[0].y.dtype == torch.int64
    assert data.test_x.shape[1:] == (60,)


def test_federated_data_is_identical_for_a_seed_and_differs_across_seeds() -> None:
    spec = DigitsDataSpec()
    partition = DirichletPartitionSpec(alpha=0.5)

    first = build_federated_data(spec, partition, 10, seed=3)
    again = build_federated_data(spec, partition, 10, seed=3)
    other = build_federated_data(spec, partition, 10, seed=4)

    for a, b in zip(first.clients, again.clients, strict=True):
        assert torch.equal(a.x, b.x)
        assert torch.equal(a.y, b.y)
    assert torch.equal(first.test_x, again.test_x)
    assert [c.num_samples for c in first.clients] != [c.num_samples for c in other.clients]


def test_federated_clients_together_hold_the_whole_training_set() -> None:
    data = build_federated_data(DigitsDataSpec(), ShardsPartitionSpec(), 20, seed=0)

    assert sum(c.num_samples for c in data.clients) + len(data.test_y) == 1797
    assert max(len(torch.unique(c.y)) for c in data.clients) <= 2


def test_natural_partition_with_a_different_client_count_raises_data_error() -> None:
    spec = SyntheticDataSpec(num_users=8)

    with pytest.raises(DataError, match="the dataset has 8 users, the topology 5 clients") as info:
        build_federated_data(spec, NaturalPartitionSpec(), num_clients=5, seed=0)

    assert info.value.where == "data 'synthetic'"


def test_natural_partition_of_a_dataset_without_users_raises_data_error() -> None:
    with pytest.raises(DataError, match="partition 'natural' needs a dataset with users"):
        build_federated_data(DigitsDataSpec(), NaturalPartitionSpec(), num_clients=5, seed=0)


def test_leaf_user_without_training_samples_is_refused_as_an_empty_client(tmp_path: Path) -> None:
    train = _write_leaf(tmp_path / "train.json", {"a": ([[1.0]], [0]), "b": ([], [])})
    test = _write_leaf(tmp_path / "test.json", {"a": ([[2.0]], [1])})
    spec = LeafDataSpec(train_path=train, test_path=test)

    with pytest.raises(DataError, match=r"leaves clients \[1\] without samples"):
        build_federated_data(spec, spec.partition, num_clients=2, seed=0)


def test_custom_loader_gets_the_seed_and_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _user_module(
        tmp_path,
        monkeypatch,
        "user_data_ok",
        """
        import numpy as np
        import torch

        def load(seed, scale=1.0):
            rng = np.random.default_rng(seed)
            train_x = torch.tensor(rng.random((40, 3)) * scale)
            return train_x, np.arange(40) % 4, rng.random((6, 3)), np.arange(6) % 4
        """,
    )
    spec = CustomDataSpec(path="user_data_ok:load", options={"scale": 2.0})

    data = build_federated_data(spec, IidPartitionSpec(), 4, seed=9)

    expected = np.random.default_rng(9).random((40, 3)) * 2.0
    pooled = torch.cat([c.x for c in data.clients])
    assert data.num_classes == 4
    assert data.input_shape == (3,)
    assert pooled.dtype == torch.float32
    assert sorted(pooled[:, 0].tolist()) == sorted(expected[:, 0].astype(np.float32).tolist())


def test_custom_loader_returning_bad_labels_raises_data_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user_module(
        tmp_path,
        monkeypatch,
        "user_data_bad",
        """
        import numpy as np

        def load(seed):
            return np.zeros((4, 2)), np.array([0.0, 1.5, 2.0, 3.0]), np.zeros((1, 2)), np.array([0])
        """,
    )
    spec = CustomDataSpec(path="user_data_bad:load")

    with pytest.raises(DataError, match="train labels must be non-negative integers") as info:
        build_federated_data(spec, IidPartitionSpec(), 2, seed=0)

    assert info.value.where == "custom data 'user_data_bad:load'"
