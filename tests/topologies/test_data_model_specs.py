import tomllib
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from topologies.specs.data import (
    CustomDataSpec,
    DataSpec,
    DigitsDataSpec,
    DirichletPartitionSpec,
    IidPartitionSpec,
    LeafDataSpec,
    NaturalPartitionSpec,
    SyntheticDataSpec,
)
from topologies.specs.model import CnnModelSpec, CustomModelSpec, MlpModelSpec, ModelSpec

DATA = TypeAdapter(DataSpec)
MODEL = TypeAdapter(ModelSpec)


def _data(toml: str) -> Any:
    return DATA.validate_python(tomllib.loads(toml)["data"])


def _model(toml: str) -> Any:
    return MODEL.validate_python(tomllib.loads(toml)["model"])


def test_data_table_with_a_partition_subtable_loads_from_toml() -> None:
    spec = _data(
        """
        [data]
        kind = "digits"
        test_fraction = 0.25

        [data.partition]
        kind = "dirichlet"
        alpha = 0.3
        min_samples_per_client = 4
        """
    )

    assert spec == DigitsDataSpec(
        test_fraction=0.25, partition=DirichletPartitionSpec(alpha=0.3, min_samples_per_client=4)
    )


def test_datasets_with_users_default_to_natural_and_others_to_iid() -> None:
    synthetic = _data('[data]\nkind = "synthetic"\nalpha = 0.5\nbeta = 0.5')
    leaf = _data('[data]\nkind = "leaf"\ntrain_path = "a"\ntest_path = "b"')
    digits = _data('[data]\nkind = "digits"')

    assert synthetic == SyntheticDataSpec(alpha=0.5, beta=0.5)
    assert synthetic.partition == NaturalPartitionSpec()
    assert leaf == LeafDataSpec(train_path=Path("a"), test_path=Path("b"))
    assert leaf.partition == NaturalPartitionSpec()
    assert digits.partition == IidPartitionSpec()


def test_unknown_key_is_refused_with_its_name() -> None:
    with pytest.raises(ValidationError, match=r"synthetic\.num_user\n  Extra inputs are not permitted"):
        _data('[data]\nkind = "synthetic"\nnum_user = 10')


def test_dirichlet_alpha_of_zero_is_refused_naming_the_field() -> None:
    with pytest.raises(
        ValidationError, match=r"digits\.partition\.dirichlet\.alpha\n  Input should be greater than 0"
    ):
        _data('[data]\nkind = "digits"\n[data.partition]\nkind = "dirichlet"\nalpha = 0.0')


def test_negative_synthetic_alpha_is_refused_naming_the_field() -> None:
    with pytest.raises(
        ValidationError, match=r"synthetic\.alpha\n  Input should be greater than or equal to 0"
    ):
        _data('[data]\nkind = "synthetic"\nalpha = -1.0')


def test_unknown_data_kind_is_refused_listing_the_known_kinds() -> None:
    with pytest.raises(ValidationError, match="Input tag 'cifar' found using 'kind' does not match") as info:
        _data('[data]\nkind = "cifar"')

    assert "'synthetic', 'digits', 'leaf', 'mnist_idx', 'fashion_mnist', 'custom'" in str(info.value)


def test_unknown_partition_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="Input tag 'zipf' found using 'kind'"):
        _data('[data]\nkind = "digits"\n[data.partition]\nkind = "zipf"')


def test_natural_partition_is_refused_for_a_dataset_without_users() -> None:
    with pytest.raises(ValidationError, match="partition kind 'natural' needs a dataset with users"):
        _data('[data]\nkind = "digits"\n[data.partition]\nkind = "natural"')


def test_synthetic_max_samples_below_min_samples_is_refused() -> None:
    with pytest.raises(ValidationError, match=r"max_samples must be >= min_samples \(50\), got 10"):
        SyntheticDataSpec(min_samples=50, max_samples=10)


def test_custom_data_path_that_does_not_import_is_refused_at_load() -> None:
    with pytest.raises(ValidationError, match="cannot import module 'no_such_module_fedactors'") as info:
        _data('[data]\nkind = "custom"\npath = "no_such_module_fedactors:load"')

    assert "custom.path" in str(info.value)


def test_custom_path_without_a_colon_is_refused_with_the_expected_form() -> None:
    with pytest.raises(ValidationError, match=r"expected the form 'package\.module:attribute'"):
        CustomDataSpec(path="math.sqrt")


def test_custom_path_to_a_missing_attribute_is_refused() -> None:
    with pytest.raises(ValidationError, match="module 'math' has no attribute 'no_such_fn'"):
        CustomModelSpec(path="math:no_such_fn")


def test_custom_path_to_something_not_callable_is_refused() -> None:
    with pytest.raises(ValidationError, match="'math:pi': float object is not callable"):
        CustomModelSpec(path="math:pi")


def test_custom_path_to_a_callable_is_accepted_with_options() -> None:
    spec = _data('[data]\nkind = "custom"\npath = "math:hypot"\noptions = { scale = 2 }')

    assert spec == CustomDataSpec(path="math:hypot", options={"scale": 2})


def test_model_table_loads_each_kind_from_toml() -> None:
    mlp = _model('[model]\nkind = "mlp"\nhidden = [128, 64]')
    cnn = _model('[model]\nkind = "cnn"')

    assert mlp == MlpModelSpec(hidden=(128, 64), activation="relu")
    assert cnn == CnnModelSpec(channels=(16, 32))


def test_mlp_hidden_width_must_be_positive() -> None:
    with pytest.raises(ValidationError, match=r"mlp\.hidden\.1\n  Input should be greater than 0"):
        _model('[model]\nkind = "mlp"\nhidden = [8, 0]')


def test_unknown_model_kind_and_unknown_model_key_are_refused() -> None:
    with pytest.raises(ValidationError, match="Input tag 'resnet' found using 'kind'"):
        _model('[model]\nkind = "resnet"')
    with pytest.raises(ValidationError, match=r"cnn\.layers\n  Extra inputs are not permitted"):
        _model('[model]\nkind = "cnn"\nlayers = 3')


def test_specs_are_frozen() -> None:
    spec = DirichletPartitionSpec()

    with pytest.raises(ValidationError, match="Instance is frozen"):
        spec.alpha = 2.0  # type: ignore[misc]
