"""Confidence intervals over seeds, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from sims.stats import estimate, paired_difference, t_quantile


def test_the_95_percent_interval_of_five_values_is_the_hand_computed_student_t_interval() -> None:
    # mean 3, sample variance (4+1+0+1+4)/4 = 2.5, t(0.975, 4) = 2.7764451
    half = 2.7764451052 * math.sqrt(2.5) / math.sqrt(5)

    est = estimate([1.0, 2.0, 3.0, 4.0, 5.0])

    assert (est.n, est.mean) == (5, 3.0)
    assert est.std == pytest.approx(math.sqrt(2.5))
    assert (est.ci_low, est.ci_high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert est.half_width == pytest.approx(1.963243, abs=1e-6)


def test_t_quantiles_match_the_table() -> None:
    assert [round(t_quantile(df), 3) for df in (1, 2, 4, 9, 30)] == [12.706, 4.303, 2.776, 2.262, 2.042]


def test_missing_values_are_left_out_and_one_value_has_no_interval() -> None:
    assert estimate([None, 0.5, None]) == estimate([0.5])
    assert (estimate([0.5]).mean, estimate([0.5]).ci_low, estimate([]).n) == (0.5, None, 0)


def test_a_paired_difference_pairs_values_by_seed() -> None:
    a = {0: 0.9, 1: 0.8, 2: 0.7, 3: None}
    b = {0: 0.8, 1: 0.6, 2: 0.7, 3: 0.5, 4: 0.4}

    diff = paired_difference(a, b)

    # differences 0.1, 0.2, 0.0: mean 0.1, sd 0.1, t(0.975, 2) = 4.3026527
    assert (diff.n, diff.mean, diff.std) == (3, pytest.approx(0.1), pytest.approx(0.1))
    assert diff.half_width == pytest.approx(4.3026527 * 0.1 / math.sqrt(3))
