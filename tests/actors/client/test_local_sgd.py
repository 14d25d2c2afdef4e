"""Local SGD and evaluation: hand-computed steps, FedProx's gradient, counting, seeding, errors."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from actors.client.local_sgd import (
    Evaluation,
    TrainConfig,
    TrainingInputError,
    TrainResult,
    evaluate,
    local_train,
)


def linear(weight: list[list[float]], bias: list[float]) -> nn.Linear:
    model = nn.Linear(len(weight[0]), len(weight))
    with torch.no_grad():
        model.weight.copy_(torch.tensor(weight))
        model.bias.copy_(torch.tensor(bias))
    return model


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_problem(n: int = 10) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    data = torch.Generator().manual_seed(42)
    x = torch.randn(n, 3, generator=data)
    y = torch.randint(0, 2, (n,), generator=data)
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.copy_(torch.randn(2, 3, generator=data))
        model.bias.zero_()
    return model, x, y


# --- one step by hand -----------------------------------------------------------------------


def test_one_sgd_step_on_cross_entropy_matches_the_hand_computed_gradient() -> None:
    model = linear([[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    config = TrainConfig(steps=1, batch_size=1, lr=0.5)

    result = local_train(model, x, y, config, generator())

    # Zero logits: p = (1/2, 1/2), loss = ln 2. ∂L/∂W = (p - onehot(0)) xᵀ = [[-1/2, -1], [1/2, 1]],
    # ∂L/∂b = (-1/2, 1/2); one step of lr 1/2 moves W by -1/2 of that.
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[0.25, 0.5], [-0.25, -0.5]]))
    torch.testing.assert_close(model.bias.detach(), torch.tensor([0.25, -0.25]))
    assert result == TrainResult(num_samples=1, num_steps=1, mean_loss=pytest.approx(math.log(2)))


def test_gradient_clipping_scales_the_step_to_max_grad_norm() -> None:
    model = linear([[0.0, 0.0], [0.0, 0.0]], [0.0, 0.0])
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([0])
    # The gradient above has norm √(1/4 + 1 + 1/4 + 1 + 1/4 + 1/4) = √3; clip it to half that.
    config = TrainConfig(steps=1, batch_size=1, lr=0.5, max_grad_norm=math.sqrt(3) / 2)

    local_train(model, x, y, config, generator())

    torch.testing.assert_close(model.weight.detach(), torch.tensor([[0.125, 0.25], [-0.125, -0.25]]))
    torch.testing.assert_close(model.bias.detach(), torch.tensor([0.125, -0.125]))


# --- FedProx --------------------------------------------------------------------------------


def test_fedprox_term_pulls_towards_the_weights_at_entry() -> None:
    # One class: cross-entropy is 0 with a zero gradient, so only weight decay and the
    # proximal term move the weights.
    model = linear([[1.0]], [2.0])
    x, y = torch.tensor([[1.0]]), torch.tensor([0])
    config = TrainConfig(steps=2, batch_size=1, lr=0.5, weight_decay=0.5, prox_mu=2.0)

    local_train(model, x, y, config, generator())

    # w: step 1, w = w_global: 1 - 0.5 · (0.5 · 1) = 0.75.
    #    step 2: 0.75 - 0.5 · (2 · (0.75 - 1) + 0.5 · 0.75) = 0.75 - 0.5 · (-0.125) = 0.8125.
    # b: step 1: 2 - 0.5 · 1 = 1.5; step 2: 1.5 - 0.5 · (2 · (1.5 - 2) + 0.75) = 1.625.
    assert model.weight.item() == 0.8125
    assert model.bias.item() == 1.625


def test_fedprox_steps_follow_the_autograd_gradient_of_the_proximal_objective() -> None:
    mu, lr, steps = 2.0, 0.1, 3
    model, x, y = random_problem(n=8)
    reference, _, _ = random_problem(n=8)
    config = TrainConfig(steps=steps, batch_size=8, lr=lr, prox_mu=mu)

    local_train(model, x, y, config, generator())
    w_global = [p.detach().clone() for p in reference.parameters()]
    for _ in range(steps):
        proximal = sum(((p - g) ** 2).sum() for p, g in zip(reference.parameters(), w_global, strict=True))
        objective = F.cross_entropy(reference(x), y) + mu / 2 * proximal
        gradients = torch.autograd.grad(objective, list(reference.parameters()))
        with torch.no_grad():
            for p, gradient in zip(reference.parameters(), gradients, strict=True):
                p -= lr * gradient

    torch.testing.assert_close(model.weight.detach(), reference.weight.detach())
    torch.testing.assert_close(model.bias.detach(), reference.bias.detach())


def test_fedprox_changes_the_result_only_from_the_second_step() -> None:
    plain, x, y = random_problem(n=8)
    proximal, _, _ = random_problem(n=8)
    config = TrainConfig(steps=1, batch_size=8, lr=0.1)

    local_train(plain, x, y, config, generator())
    local_train(proximal, x, y, config.model_copy(update={"prox_mu": 2.0}), generator())

    # At the first step w = w_global, so the proximal gradient μ(w - w_global) is zero.
    assert torch.equal(plain.weight, proximal.weight)


# --- how much work ----------------------------------------------------------------------------


def test_epochs_take_a_short_last_batch_per_pass() -> None:
    model, x, y = random_problem(n=10)

    result = local_train(model, x, y, TrainConfig(epochs=2, batch_size=4), generator())

    # ⌈10 / 4⌉ = 3 batches per epoch.
    assert (result.num_samples, result.num_steps) == (10, 6)


def test_steps_count_batches_across_passes() -> None:
    model, x, y = random_problem(n=10)

    result = local_train(model, x, y, TrainConfig(steps=5, batch_size=4), generator())

    assert result.num_steps == 5


def test_the_epochs_argument_overrides_the_config() -> None:
    model, x, y = random_problem(n=10)

    result = local_train(model, x, y, TrainConfig(steps=5, batch_size=4), generator(), epochs=3)

    assert result.num_steps == 9


def test_mean_loss_weights_each_batch_by_its_size() -> None:
    model, x, y = random_problem(n=10)
    before = evaluate(model, x, y)
    # A learning rate this small leaves the weights as they were, to float precision.
    config = TrainConfig(epochs=1, batch_size=4, lr=1e-30)

    result = local_train(model, x, y, config, generator())

    assert result.mean_loss == pytest.approx(before.loss, rel=1e-6)


# --- randomness -----------------------------------------------------------------------------


def test_the_same_generator_seed_gives_the_same_weights_whatever_the_global_rng() -> None:
    first, x, y = random_problem()
    second, _, _ = random_problem()
    config = TrainConfig(epochs=2, batch_size=3)

    torch.manual_seed(1)
    local_train(first, x, y, config, generator(7))
    torch.manual_seed(2)
    local_train(second, x, y, config, generator(7))

    assert torch.equal(first.weight, second.weight)


def test_another_generator_seed_shuffles_differently() -> None:
    first, x, y = random_problem()
    second, _, _ = random_problem()
    config = TrainConfig(epochs=1, batch_size=3)

    local_train(first, x, y, config, generator(7))
    local_train(second, x, y, config, generator(8))

    assert not torch.equal(first.weight, second.weight)


# --- modes ----------------------------------------------------------------------------------


def test_local_train_gives_the_model_back_in_the_mode_it_came_in() -> None:
    model, x, y = random_problem()
    model.eval()

    local_train(model, x, y, TrainConfig(), generator())

    assert not model.training


# --- evaluate -------------------------------------------------------------------------------


def test_evaluate_a_tiny_fixed_model() -> None:
    model = linear([[1.0, 0.0], [0.0, 1.0]], [0.0, 0.0])
    x = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 3.0]])
    y = torch.tensor([0, 0, 1])

    result = evaluate(model, x, y, batch_size=2)

    # Logits are the inputs. Predictions 0, 1, 1: two right. Losses: -log softmax of the
    # label's logit = log(1 + e^(other - own)): log(1 + e^-2), log(1 + e^1), log(1 + e^-2).
    expected_loss = (2 * math.log1p(math.exp(-2)) + math.log1p(math.e)) / 3
    assert result == Evaluation(
        loss=pytest.approx(expected_loss, rel=1e-6), accuracy=pytest.approx(2 / 3), num_samples=3
    )


def test_evaluate_does_not_train_and_restores_the_mode() -> None:
    model, x, y = random_problem()
    model.train()
    weights = model.weight.detach().clone()

    evaluate(model, x, y)

    assert model.training
    assert model.weight.grad is None
    assert torch.equal(model.weight, weights)


# --- bad input ------------------------------------------------------------------------------


def test_config_needs_exactly_one_of_epochs_and_steps() -> None:
    with pytest.raises(
        pydantic.ValidationError, match="set exactly one of `epochs` and `steps`, got epochs=2 and steps=5"
    ):
        TrainConfig(epochs=2, steps=5)


def test_config_rejects_neither_epochs_nor_steps() -> None:
    with pytest.raises(pydantic.ValidationError, match="got epochs=None and steps=None"):
        TrainConfig(epochs=None)


def test_setting_only_steps_drops_the_default_epochs() -> None:
    config = TrainConfig.model_validate({"steps": 50})

    assert (config.epochs, config.steps) == (None, 50)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"batch_size": 0}, r"batch_size\n.*greater than 0"),
        ({"lr": 0.0}, r"lr\n.*greater than 0"),
        ({"momentum": 1.0}, r"momentum\n.*less than 1"),
        ({"prox_mu": -0.1}, r"prox_mu\n.*greater than or equal to 0"),
        ({"epochs": 0}, r"epochs\n.*greater than or equal to 1"),
        ({"max_grad_norm": 0.0}, r"max_grad_norm\n.*greater than 0"),
        ({"learning_rate": 0.1}, r"learning_rate\n.*Extra inputs"),
    ],
)
def test_bad_config_fields_are_named(table: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        TrainConfig.model_validate(table)


def test_an_epochs_override_below_one_is_rejected() -> None:
    model, x, y = random_problem()

    with pytest.raises(pydantic.ValidationError, match=r"epochs\n.*greater than or equal to 1"):
        local_train(model, x, y, TrainConfig(), generator(), epochs=0)


def test_labels_must_match_the_samples() -> None:
    model, x, y = random_problem(n=10)

    with pytest.raises(TrainingInputError) as info:
        local_train(model, x, y[:9], TrainConfig(), generator())

    assert str(info.value) == (
        "data: expected one label per sample (row of x), got x of shape (10, 3) and 9 labels"
    )


def test_labels_must_be_class_indices() -> None:
    model, x, _ = random_problem(n=4)

    with pytest.raises(TrainingInputError, match="expected a 1-D integer tensor of class indices"):
        evaluate(model, x, torch.zeros(4))


def test_empty_data_is_rejected() -> None:
    model = nn.Linear(3, 2)

    with pytest.raises(TrainingInputError, match="data: expected at least one sample, got none"):
        local_train(model, torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64), TrainConfig(), generator())


def test_evaluate_rejects_a_batch_size_below_one() -> None:
    model, x, y = random_problem()

    with pytest.raises(TrainingInputError, match="batch_size: expected an int >= 1, got 0"):
        evaluate(model, x, y, batch_size=0)
