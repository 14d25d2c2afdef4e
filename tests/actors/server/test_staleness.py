"""FedAsync's staleness functions against hand-computed values."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import TypeAdapter

from actors.server.errors import NegativeStalenessError
from actors.server.staleness import (
    ConstantStalenessConfig,
    HingeStalenessConfig,
    PolynomialStalenessConfig,
    StalenessConfig,
)

ADAPTER: TypeAdapter[StalenessConfig] = TypeAdapter(StalenessConfig)


def test_constant_staleness_is_one_at_every_staleness() -> None:
    config = ConstantStalenessConfig()

    weights = [config.weight(tau) for tau in (0, 1, 100)]

    assert weights == [1.0, 1.0, 1.0]


def test_polynomial_staleness_is_one_when_fresh_and_half_at_tau_3_with_a_half() -> None:
    config = PolynomialStalenessConfig(a=0.5)

    fresh, stale = config.weight(0), config.weight(3)

    # (0 + 1)^-0.5 = 1; (3 + 1)^-0.5 = 1/2.
    assert fresh == 1.0
    assert stale == 0.5


def test_hinge_staleness_is_one_up_to_b_then_decays() -> None:
    config = HingeStalenessConfig(a=10.0, b=4)

    at_zero, at_b, beyond = config.weight(0), config.weight(4), config.weight(6)

    # τ = 6 > b: 1 / (10 · (6 - 4) + 1) = 1/21.
    assert at_zero == 1.0
    assert at_b == 1.0
    assert beyond == pytest.approx(1 / 21, rel=1e-15)


def test_hinge_staleness_just_past_b() -> None:
    config = HingeStalenessConfig(a=0.5, b=2)

    weight = config.weight(3)

    # 1 / (0.5 · 1 + 1) = 2/3.
    assert weight == pytest.approx(2 / 3, rel=1e-15)


@pytest.mark.parametrize(
    "config",
    [ConstantStalenessConfig(), PolynomialStalenessConfig(), HingeStalenessConfig()],
    ids=["constant", "polynomial", "hinge"],
)
def test_negative_staleness_is_a_typed_error(config: StalenessConfig) -> None:
    with pytest.raises(NegativeStalenessError, match="staleness must be >= 0, got -1") as info:
        config.weight(-1)

    assert info.value.tau == -1


def test_the_union_picks_the_variant_named_by_kind() -> None:
    config = ADAPTER.validate_python({"kind": "hinge", "a": 2.0, "b": 1})

    assert config == HingeStalenessConfig(a=2.0, b=1)


def test_defaults_are_the_paper_experiments_values() -> None:
    polynomial = ADAPTER.validate_python({"kind": "polynomial"})
    hinge = ADAPTER.validate_python({"kind": "hinge"})

    assert polynomial == PolynomialStalenessConfig(a=0.5)
    assert hinge == HingeStalenessConfig(a=10.0, b=4)


def test_a_must_be_positive_and_the_error_names_the_variant_field() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"polynomial\.a\n.*greater than 0"):
        ADAPTER.validate_python({"kind": "polynomial", "a": 0})


def test_b_must_not_be_negative() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"hinge\.b\n.*greater than or equal to 0"):
        ADAPTER.validate_python({"kind": "hinge", "b": -1})


def test_an_unknown_field_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"constant\.a\n.*Extra inputs"):
        ADAPTER.validate_python({"kind": "constant", "a": 1.0})


def test_an_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(pydantic.ValidationError, match="'constant', 'polynomial', 'hinge'"):
        ADAPTER.validate_python({"kind": "exponential"})


def test_configs_are_frozen() -> None:
    config = HingeStalenessConfig()

    with pytest.raises(pydantic.ValidationError, match="frozen"):
        config.a = 1.0  # type: ignore[misc]
