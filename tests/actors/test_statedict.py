"""State dict arithmetic: exact values, the dtype rule, and the mismatch check."""

from __future__ import annotations

import pytest
import torch

from actors.errors import FedActorsError
from actors.statedict import (
    StateDictMismatchError,
    add,
    add_scaled,
    check_same_keys_and_shapes,
    clone,
    coordinatewise,
    flatten,
    global_norm,
    mean,
    mix,
    scale,
    sub,
    unflatten,
    weighted_mean,
    zeros_like,
)


def sd(**tensors: list[float]) -> dict[str, torch.Tensor]:
    return {k: torch.tensor(v) for k, v in tensors.items()}


def assert_sd_equal(actual: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, key
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)


def test_sub_add_scale_add_scaled_and_mix_are_exact_on_dyadic_values() -> None:
    a = sd(w=[1.0, 2.0], b=[0.5])
    b = sd(w=[0.25, -1.0], b=[1.5])

    results = [sub(a, b), add(a, b), scale(a, 0.5), add_scaled(a, b, 2.0), mix(a, b, 0.25)]

    assert_sd_equal(results[0], sd(w=[0.75, 3.0], b=[-1.0]))
    assert_sd_equal(results[1], sd(w=[1.25, 1.0], b=[2.0]))
    assert_sd_equal(results[2], sd(w=[0.5, 1.0], b=[0.25]))
    assert_sd_equal(results[3], sd(w=[1.5, 0.0], b=[3.5]))
    assert_sd_equal(results[4], sd(w=[0.8125, 1.25], b=[0.75]))


def test_helpers_do_not_change_their_arguments() -> None:
    a = sd(w=[1.0, 2.0])
    b = sd(w=[3.0, 4.0])

    add_scaled(a, b, 2.0)
    weighted_mean([a, b], [1.0, 1.0])

    assert_sd_equal(a, sd(w=[1.0, 2.0]))
    assert_sd_equal(b, sd(w=[3.0, 4.0]))


def test_weighted_mean_normalises_the_weights() -> None:
    first = sd(w=[0.0, 4.0])
    second = sd(w=[4.0, 8.0])

    result = weighted_mean([first, second], [1.0, 3.0])

    assert_sd_equal(result, sd(w=[3.0, 7.0]))


def test_mean_is_the_unweighted_average() -> None:
    result = mean([sd(w=[1.0]), sd(w=[2.0]), sd(w=[6.0])])

    assert_sd_equal(result, sd(w=[3.0]))


def test_floating_tensors_keep_the_dtype_of_the_first_argument() -> None:
    half = {"w": torch.tensor([1.0, 2.0], dtype=torch.float16)}
    single = {"w": torch.tensor([0.5, 0.5], dtype=torch.float32)}

    result = add(half, single)

    assert result["w"].dtype == torch.float16
    assert result["w"].tolist() == [1.5, 2.5]


def test_integer_buffers_are_computed_in_float64_and_rounded_back() -> None:
    counters = [{"n": torch.tensor(3)}, {"n": torch.tensor(4)}]

    averaged = weighted_mean(counters, [1.0, 1.0])
    scaled = scale(counters[1], 0.4)

    # 3.5 rounds half to even; 1.6 rounds to 2.
    assert averaged["n"].dtype == torch.int64
    assert averaged["n"].item() == 4
    assert scaled["n"].item() == 2


def test_global_norm_covers_floating_tensors_and_skips_counters() -> None:
    update = {
        "w": torch.tensor([3.0, 0.0]),
        "b": torch.tensor([4.0]),
        "num_batches_tracked": torch.tensor(500),
    }

    norm = global_norm(update)

    assert norm == 5.0


def test_flatten_then_unflatten_round_trips_keys_shapes_and_dtypes() -> None:
    original = {
        "w": torch.tensor([[1.0, 2.0], [3.0, 4.0]]),
        "n": torch.tensor(7),
        "b": torch.tensor([0.5], dtype=torch.float64),
    }

    flat = flatten(original)
    restored = unflatten(flat, original)

    assert flat.tolist() == [1.0, 2.0, 3.0, 4.0, 7.0, 0.5]
    assert flat.dtype == torch.float32
    assert_sd_equal(restored, original)


def test_unflatten_rejects_a_vector_of_the_wrong_length() -> None:
    reference = {"w": torch.zeros(2, 2)}

    with pytest.raises(StateDictMismatchError, match=r"has shape \(3,\), expected \(4,\)"):
        unflatten(torch.zeros(3), reference)


def test_zeros_like_gives_zeros_and_clone_shares_no_memory() -> None:
    original = sd(w=[1.0, 2.0])

    zeros = zeros_like(original)
    copy = clone(original)
    copy["w"][0] = 9.0

    assert_sd_equal(zeros, sd(w=[0.0, 0.0]))
    assert original["w"].tolist() == [1.0, 2.0]


def test_coordinatewise_reduces_over_the_stacked_state_dicts() -> None:
    dicts = [sd(w=[1.0, 5.0]), sd(w=[3.0, 2.0])]

    result = coordinatewise(dicts, lambda stacked: stacked.max(dim=0).values)

    assert_sd_equal(result, sd(w=[3.0, 5.0]))


def test_check_same_keys_and_shapes_names_missing_and_unexpected_keys() -> None:
    reference = sd(w=[1.0], b=[1.0])
    other = sd(w=[1.0], bias=[1.0])

    with pytest.raises(StateDictMismatchError) as info:
        check_same_keys_and_shapes(reference, other, who="update 2")

    assert str(info.value) == (
        "update 2: keys differ: missing ['b'], unexpected ['bias']; "
        "it must come from the same model architecture"
    )
    assert info.value.key is None
    assert isinstance(info.value, FedActorsError)


def test_check_same_keys_and_shapes_names_the_key_and_both_shapes() -> None:
    reference = {"fc.weight": torch.zeros(10, 4)}
    other = {"fc.weight": torch.zeros(10, 5)}

    with pytest.raises(StateDictMismatchError) as info:
        check_same_keys_and_shapes(reference, other, who="update 0")

    assert "update 0: key 'fc.weight' has shape (10, 5), expected (10, 4)" in str(info.value)
    assert (info.value.expected, info.value.actual) == ((10, 4), (10, 5))


def test_check_same_keys_and_shapes_accepts_another_dtype() -> None:
    reference = {"w": torch.zeros(2)}
    other = {"w": torch.zeros(2, dtype=torch.float16)}

    check_same_keys_and_shapes(reference, other, who="delta")
