import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sims.errors import ModelError
from sims.models import MODEL_BUILDERS, build_model
from topologies.specs.model import (
    CnnModelSpec,
    CustomModelSpec,
    LogRegModelSpec,
    MlpModelSpec,
)

BUILT_IN = [LogRegModelSpec(), MlpModelSpec(hidden=(32, 16)), CnnModelSpec()]


def _user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, source: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)


def test_registry_has_a_builder_for_every_model_kind() -> None:
    assert set(MODEL_BUILDERS) == {"logreg", "mlp", "cnn", "custom"}


@pytest.mark.parametrize("spec", BUILT_IN, ids=lambda spec: spec.kind)
@pytest.mark.parametrize("input_shape", [(1, 28, 28), (64,)], ids=["mnist", "digits"])
def test_built_in_models_map_flat_or_shaped_batches_to_logits(spec, input_shape) -> None:
    model = build_model(spec, input_shape, num_classes=10, seed=0)
    shaped = torch.rand(5, *input_shape)

    logits = model(shaped)

    assert logits.shape == (5, 10)
    assert logits.dtype == torch.float32
    assert torch.equal(model(shaped.flatten(1)), logits)


@pytest.mark.parametrize("spec", BUILT_IN, ids=lambda spec: spec.kind)
def test_same_seed_gives_identical_weights_and_other_seeds_differ(spec) -> None:
    def weights(seed: int) -> dict[str, torch.Tensor]:
        return build_model(spec, (1, 8, 8), num_classes=10, seed=seed).state_dict()

    first, again, other = weights(5), weights(5), weights(6)

    assert all(torch.equal(first[name], again[name]) for name in first)
    assert not any(torch.equal(first[name], other[name]) for name in first if name.endswith("weight"))


def test_building_a_model_leaves_the_global_torch_rng_untouched() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)

    build_model(MlpModelSpec(), (60,), num_classes=10, seed=0)

    assert torch.equal(torch.rand(3), expected)


def test_mlp_has_one_linear_layer_per_hidden_width_plus_the_output() -> None:
    model = build_model(MlpModelSpec(hidden=(32, 16), activation="tanh"), (60,), 10, seed=0)

    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]

    assert [(m.in_features, m.out_features) for m in linears] == [(60, 32), (32, 16), (16, 10)]
    assert any(isinstance(m, torch.nn.Tanh) for m in model.modules())


@pytest.mark.parametrize("input_shape", [(60,), (3, 2, 2), (1, 2, 3, 4)])
def test_cnn_refuses_inputs_that_are_not_images_of_side_at_least_4(input_shape) -> None:
    with pytest.raises(ModelError, match=r"needs an image input shaped \(C, H, W\)") as info:
        build_model(CnnModelSpec(), input_shape, num_classes=10, seed=0)

    assert info.value.model == "cnn"
    assert str(input_shape) in info.value.reason


def test_build_model_refuses_fewer_than_two_classes() -> None:
    with pytest.raises(ModelError, match="num_classes must be >= 2, got 1"):
        build_model(LogRegModelSpec(), (4,), num_classes=1, seed=0)


def test_custom_model_factory_receives_shape_classes_and_options(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user_module(
        tmp_path,
        monkeypatch,
        "user_model_ok",
        """
        import math
        from torch import nn

        def make(input_shape, num_classes, width=8):
            return nn.Sequential(
                nn.Flatten(), nn.Linear(math.prod(input_shape), width), nn.Linear(width, num_classes)
            )
        """,
    )
    spec = CustomModelSpec(path="user_model_ok:make", options={"width": 4})

    model = build_model(spec, (2, 3), num_classes=5, seed=0)

    assert model(torch.rand(7, 2, 3)).shape == (7, 5)
    assert model[1].out_features == 4


def test_custom_model_factory_returning_no_module_raises_model_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _user_module(
        tmp_path, monkeypatch, "user_model_bad", "def make(input_shape, num_classes):\n    return 3\n"
    )
    spec = CustomModelSpec(path="user_model_bad:make")

    with pytest.raises(ModelError, match=r"expected a torch\.nn\.Module, got int"):
        build_model(spec, (4,), num_classes=2, seed=0)
