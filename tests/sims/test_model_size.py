"""`sims.model_size` counts a built-in model's parameters without torch, as the built model has them."""

import pytest

from sims.errors import ModelError
from sims.model_size import parameter_count
from sims.models import build_model
from topologies.specs.model import CnnModelSpec, CustomModelSpec, LogRegModelSpec, MlpModelSpec

SPECS = [
    LogRegModelSpec(),
    MlpModelSpec(),
    MlpModelSpec(hidden=(32, 16), activation="tanh"),
    CnnModelSpec(),
    CnnModelSpec(channels=(3, 5)),
]
SHAPES = [(64,), (1, 28, 28), (3, 9, 7), (6, 6)]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
@pytest.mark.parametrize("input_shape", SHAPES, ids=str)
def test_counted_parameters_equal_the_built_models_parameters(spec, input_shape) -> None:
    built = build_model(spec, input_shape, num_classes=10, seed=0)

    counted = parameter_count(spec, input_shape, num_classes=10)

    assert counted == sum(p.numel() for p in built.parameters())


def test_logreg_on_digits_counts_weights_and_biases_by_hand() -> None:
    assert parameter_count(LogRegModelSpec(), (64,), 10) == 64 * 10 + 10


def test_cnn_count_refuses_a_shape_the_cnn_cannot_take_with_the_builders_message() -> None:
    with pytest.raises(ModelError) as built:
        build_model(CnnModelSpec(), (60,), 10, seed=0)

    with pytest.raises(ModelError) as counted:
        parameter_count(CnnModelSpec(), (60,), 10)

    assert str(counted.value) == str(built.value)
    assert "(S*S,)" in str(counted.value)


def test_count_refuses_fewer_than_two_classes() -> None:
    with pytest.raises(ModelError, match="num_classes must be >= 2, got 1"):
        parameter_count(MlpModelSpec(), (8,), 1)


def test_a_custom_model_is_not_counted_it_must_be_built() -> None:
    spec = CustomModelSpec.model_construct(kind="custom", path="m:f", options={})

    assert parameter_count(spec, (8,), 3) is None
