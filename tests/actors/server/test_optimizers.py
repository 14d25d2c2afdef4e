"""Server optimizers against hand-computed steps (Reddi et al. 2021, Algorithm 2), and their state."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
from pydantic import TypeAdapter

from actors.server.errors import OptimizerStateError
from actors.server.fedavg import FedAvgConfig, FedAvgServer
from actors.server.optimizers import (
    FedAdagrad,
    FedAdagradConfig,
    FedAdam,
    FedAdamConfig,
    FedYogi,
    FedYogiConfig,
    ServerOptimizerConfig,
    ServerSgd,
    ServerSgdConfig,
    build_server_optimizer,
)
from actors.statedict import StateDict, StateDictMismatchError
from actors.testing import FixedTrainer
from tests.actors.server.test_servers import run_star, weights

ADAPTER: TypeAdapter[ServerOptimizerConfig] = TypeAdapter(ServerOptimizerConfig)


def params(*values: float) -> StateDict:
    return {"w": torch.tensor(values, dtype=torch.float64)}


def assert_close(actual: StateDict, expected: StateDict) -> None:
    assert actual.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=1e-12, atol=0)


# --- SGD ------------------------------------------------------------------------------------


def test_sgd_with_lr_one_and_no_momentum_is_fedavg_exactly() -> None:
    optimizer = ServerSgd(ServerSgdConfig())
    x = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.1])}
    delta = {"w": torch.tensor([0.5, -0.25]), "b": torch.tensor([0.7])}

    result = optimizer.step(x, delta)

    assert torch.equal(result["w"], x["w"] + delta["w"])
    assert torch.equal(result["b"], x["b"] + delta["b"])
    assert optimizer.state_dict() == {"kind": "sgd", "step": 1, "buffers": {}}


def test_sgd_momentum_accumulates_over_two_steps() -> None:
    optimizer = ServerSgd(ServerSgdConfig(lr=0.5, momentum=0.5))

    x1 = optimizer.step(params(1.0), params(2.0))
    x2 = optimizer.step(x1, params(4.0))

    # v1 = 2, x1 = 1 + 0.5 · 2 = 2; v2 = 0.5 · 2 + 4 = 5, x2 = 2 + 0.5 · 5 = 4.5.
    assert_close(x1, params(2.0))
    assert_close(x2, params(4.5))
    assert_close(optimizer.state_dict()["buffers"]["momentum"], params(5.0))


# --- FedAdagrad -----------------------------------------------------------------------------


def test_fedadagrad_one_step() -> None:
    optimizer = FedAdagrad(FedAdagradConfig(lr=1.0, beta1=0.5, tau=0.75))

    x1 = optimizer.step(params(0.0, 3.0), params(1.0, 0.0))

    # m0 = 0.5 · 1 = 0.5; v0 = τ² + 1² = 1.5625, √v0 = 1.25; x1 = 0 + 0.5 / (1.25 + 0.75) = 0.25.
    # The second coordinate has Δ = 0: m stays 0 and x does not move.
    assert_close(x1, params(0.25, 3.0))
    state = optimizer.state_dict()["buffers"]
    assert_close(state["m"], params(0.5, 0.0))
    assert_close(state["v"], params(1.5625, 0.5625))


def test_fedadagrad_two_steps_carry_momentum_and_the_sum_of_squares() -> None:
    optimizer = FedAdagrad(FedAdagradConfig(lr=1.0, beta1=0.5, tau=0.75))

    x1 = optimizer.step(params(0.0), params(1.0))
    x2 = optimizer.step(x1, params(0.9375))

    # m1 = 0.5 · 0.5 + 0.5 · 0.9375 = 0.71875; v1 = 1.5625 + 0.87890625 = 2.44140625 = 1.5625².
    assert_close(x2, params(0.25 + 0.71875 / (1.5625 + 0.75)))


# --- FedAdam --------------------------------------------------------------------------------

ADAM = FedAdamConfig(lr=1.0, beta1=0.5, beta2=0.75, tau=0.5)


def test_fedadam_one_step() -> None:
    optimizer = FedAdam(ADAM)

    x1 = optimizer.step(params(1.0), params(2.0))

    # m0 = 0.5 · 2 = 1; v0 = 0.75 · τ² + 0.25 · 2² = 0.1875 + 1 = 1.1875.
    assert_close(x1, params(1.0 + 1.0 / (math.sqrt(1.1875) + 0.5)))
    assert_close(optimizer.state_dict()["buffers"]["v"], params(1.1875))


def test_fedadam_two_steps_carry_both_moments() -> None:
    optimizer = FedAdam(ADAM)

    x1 = optimizer.step(params(1.0), params(2.0))
    x2 = optimizer.step(x1, params(0.5))

    # m1 = 0.5 · 1 + 0.5 · 0.5 = 0.75; v1 = 0.75 · 1.1875 + 0.25 · 0.25 = 0.953125.
    x1_value = 1.0 + 1.0 / (math.sqrt(1.1875) + 0.5)
    assert_close(x2, params(x1_value + 0.75 / (math.sqrt(0.953125) + 0.5)))


# --- FedYogi --------------------------------------------------------------------------------

YOGI = FedYogiConfig(lr=1.0, beta1=0.5, beta2=0.75, tau=0.5)


def test_fedyogi_one_step_grows_v_when_delta_squared_is_larger() -> None:
    optimizer = FedYogi(YOGI)

    x1 = optimizer.step(params(1.0), params(2.0))

    # sign(τ² - Δ²) = sign(0.25 - 4) = -1: v0 = 0.25 + 0.25 · 4 = 1.25; m0 = 1.
    assert_close(x1, params(1.0 + 1.0 / (math.sqrt(1.25) + 0.5)))
    assert_close(optimizer.state_dict()["buffers"]["v"], params(1.25))


def test_fedyogi_second_step_shrinks_v_when_delta_squared_is_smaller() -> None:
    optimizer = FedYogi(YOGI)

    x1 = optimizer.step(params(1.0), params(2.0))
    x2 = optimizer.step(x1, params(0.5))

    # sign(1.25 - 0.25) = +1: v1 = 1.25 - 0.25 · 0.25 = 1.1875; m1 = 0.5 · 1 + 0.5 · 0.5 = 0.75.
    x1_value = 1.0 + 1.0 / (math.sqrt(1.25) + 0.5)
    assert_close(x2, params(x1_value + 0.75 / (math.sqrt(1.1875) + 0.5)))
    assert_close(optimizer.state_dict()["buffers"]["v"], params(1.1875))


def test_fedyogi_leaves_v_alone_where_it_equals_delta_squared() -> None:
    optimizer = FedYogi(YOGI)

    x1 = optimizer.step(params(1.0), params(0.5))

    # Δ² = τ² = 0.25: sign(0) = 0, v0 = 0.25; m0 = 0.25; x1 = 1 + 0.25 / (0.5 + 0.5) = 1.25.
    assert_close(x1, params(1.25))
    assert_close(optimizer.state_dict()["buffers"]["v"], params(0.25))


# --- what all optimizers share --------------------------------------------------------------

ALL_CONFIGS = [ServerSgdConfig(lr=0.5, momentum=0.5), ADAM, YOGI, FedAdagradConfig()]
IDS = [c.kind for c in ALL_CONFIGS]


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_step_does_not_change_its_arguments(config: ServerOptimizerConfig) -> None:
    optimizer = build_server_optimizer(config)
    x, delta = params(1.0, 2.0), params(0.5, 0.5)

    optimizer.step(x, delta)

    assert x["w"].tolist() == [1.0, 2.0]
    assert delta["w"].tolist() == [0.5, 0.5]


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_counters_are_added_without_learning_rate_or_buffers(config: ServerOptimizerConfig) -> None:
    optimizer = build_server_optimizer(config)
    x = {"w": torch.tensor([1.0]), "num_batches_tracked": torch.tensor(10)}
    delta = {"w": torch.tensor([0.5]), "num_batches_tracked": torch.tensor(3)}

    result = optimizer.step(x, delta)

    assert list(result) == ["w", "num_batches_tracked"]
    assert result["num_batches_tracked"].item() == 13
    assert result["num_batches_tracked"].dtype == torch.int64
    for buffer in optimizer.state_dict()["buffers"].values():
        assert list(buffer) == ["w"]


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_parameters_keep_their_dtype_whatever_the_delta_dtype(config: ServerOptimizerConfig) -> None:
    optimizer = build_server_optimizer(config)
    x = {"w": torch.tensor([1.0, 2.0])}
    delta = {"w": torch.tensor([0.5, 0.5], dtype=torch.float16)}

    result = optimizer.step(x, delta)

    assert result["w"].dtype == torch.float32


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_a_delta_of_another_shape_is_a_typed_error(config: ServerOptimizerConfig) -> None:
    optimizer = build_server_optimizer(config)

    with pytest.raises(StateDictMismatchError, match=r"delta: key 'w' has shape \(3,\), expected \(2,\)"):
        optimizer.step(params(1.0, 2.0), params(1.0, 2.0, 3.0))


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_a_saved_state_resumes_exactly_where_it_left_off(config: ServerOptimizerConfig) -> None:
    original = build_server_optimizer(config)
    x1 = original.step(params(1.0, -1.0), params(0.5, 0.25))
    saved = original.state_dict()
    resumed = build_server_optimizer(config)

    resumed.load_state_dict(saved)
    expected = original.step(x1, params(-0.5, 1.0))
    actual = resumed.step(x1, params(-0.5, 1.0))

    assert_close(actual, expected)
    assert resumed.state_dict()["step"] == 2


def test_a_saved_state_is_a_snapshot_that_later_steps_do_not_change() -> None:
    optimizer = FedAdam(ADAM)
    optimizer.step(params(1.0), params(2.0))
    saved = optimizer.state_dict()

    optimizer.step(params(1.0), params(0.5))

    assert_close(saved["buffers"]["v"], params(1.1875))
    assert saved["step"] == 1


def test_loading_another_optimizers_state_is_a_typed_error() -> None:
    yogi = FedYogi(YOGI)
    yogi.step(params(1.0), params(2.0))

    with pytest.raises(OptimizerStateError) as info:
        FedAdam(ADAM).load_state_dict(yogi.state_dict())

    assert str(info.value) == "cannot load state into fedadam: the state was saved by 'fedyogi'"


def test_loading_a_state_without_its_buffers_is_a_typed_error() -> None:
    state = {"kind": "fedadam", "step": 3, "buffers": {"m": params(0.0)}}

    with pytest.raises(OptimizerStateError, match=r"at step 3 expected buffers \['m', 'v'\], got \['m'\]"):
        FedAdam(ADAM).load_state_dict(state)


def test_loading_a_momentum_state_into_sgd_without_momentum_is_a_typed_error() -> None:
    with_momentum = ServerSgd(ServerSgdConfig(momentum=0.9))
    with_momentum.step(params(1.0), params(1.0))

    with pytest.raises(OptimizerStateError, match=r"expected buffers \[\], got \['momentum'\]"):
        ServerSgd(ServerSgdConfig()).load_state_dict(with_momentum.state_dict())


def test_loading_a_negative_step_is_a_typed_error() -> None:
    state = {"kind": "fedadam", "step": -1, "buffers": {}}

    with pytest.raises(OptimizerStateError, match="step must be an int >= 0, got -1"):
        FedAdam(ADAM).load_state_dict(state)


def test_buffers_of_another_model_fail_at_the_next_step() -> None:
    optimizer = FedAdam(ADAM)
    other_model = {"kind": "fedadam", "step": 1, "buffers": {"m": params(0.0), "v": params(1.0)}}
    optimizer.load_state_dict(other_model)

    with pytest.raises(StateDictMismatchError, match=r"fedadam buffer 'm': key 'w' has shape \(1,\)"):
        optimizer.step(params(1.0, 2.0), params(0.5, 0.5))


# --- configs --------------------------------------------------------------------------------


def test_defaults_are_the_papers_betas_and_fedavg_for_sgd() -> None:
    adam = FedAdamConfig()
    sgd = ServerSgdConfig()

    assert (adam.lr, adam.beta1, adam.beta2, adam.tau) == (1e-2, 0.9, 0.99, 1e-3)
    assert (sgd.lr, sgd.momentum) == (1.0, 0.0)


def test_the_union_builds_the_optimizer_named_by_kind() -> None:
    config = ADAPTER.validate_python({"kind": "fedyogi", "lr": 0.1})

    optimizer = build_server_optimizer(config)

    assert isinstance(optimizer, FedYogi)
    assert optimizer.state_dict() == {"kind": "fedyogi", "step": 0, "buffers": {}}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "fedadam", "lr": 0}, r"fedadam\.lr\n.*greater than 0"),
        ({"kind": "fedyogi", "tau": -1e-3}, r"fedyogi\.tau\n.*greater than 0"),
        ({"kind": "fedadam", "beta2": 1.0}, r"fedadam\.beta2\n.*less than 1"),
        ({"kind": "fedadagrad", "beta2": 0.99}, r"fedadagrad\.beta2\n.*Extra inputs"),
        ({"kind": "sgd", "momentum": 1.0}, r"sgd\.momentum\n.*less than 1"),
    ],
)
def test_bad_optimizer_tables_name_the_field(table: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        ADAPTER.validate_python(table)


async def test_fedadam_with_uniform_weighting_gets_the_plain_mean_of_the_deltas_as_reddi_et_al() -> None:
    adam = FedAdamConfig(lr=0.1, beta1=0.9, beta2=0.99, tau=1e-3)
    trainers = [
        FixedTrainer(weights(1.0), 10),
        FixedTrainer(weights(4.0), 30),
    ]  # deltas 1 and 4 from x = 0 in round 1

    results = {}
    for weighting in ("uniform", "samples"):
        config = FedAvgConfig(optimizer=adam, weighting=weighting)
        server, _ = await run_star(lambda deps, c=config: FedAvgServer(c, weights(0.0), deps), trainers, 1)
        results[weighting] = float(server.params["w"][0])

    # By hand, one step of Reddi et al. Alg. 2 from m = 0, v = τ²:
    def adam_step(delta: float) -> float:
        m = 0.1 * delta
        v = 0.99 * 1e-6 + 0.01 * delta**2
        return 0.0 + 0.1 * m / (v**0.5 + 1e-3)

    assert results["uniform"] == pytest.approx(adam_step((1.0 + 4.0) / 2), rel=1e-12)
    assert results["samples"] == pytest.approx(adam_step((10 * 1.0 + 30 * 4.0) / 40), rel=1e-12)
