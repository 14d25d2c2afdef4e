"""The geometric median (RFA, smoothed Weiszfeld) against values worked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pydantic
import pytest
import torch
from pydantic import TypeAdapter

from actors.server.aggregators import AggregatorConfig, GeoMedian, GeoMedianConfig, build_aggregator
from actors.statedict import StateDict

ADAPTER: TypeAdapter[AggregatorConfig] = TypeAdapter(AggregatorConfig)


def point(*values: float) -> StateDict:
    return {"w": torch.tensor(values, dtype=torch.float64)}


def test_one_step_from_the_weighted_mean_is_the_weiszfeld_iterate_worked_by_hand() -> None:
    # α = (3/4, 1/4) at 0 and 4: v⁰ = 1; β = (3/4 / 1, 1/4 / 3) = (3/4, 1/12);
    # v¹ = (0·3/4 + 4·1/12) / (3/4 + 1/12) = (1/3) / (5/6) = 0.4.
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=1))

    median = aggregator.aggregate([point(0.0, 0.0), point(4.0, 0.0)], [3.0, 1.0])

    torch.testing.assert_close(median, point(0.4, 0.0), rtol=0, atol=1e-15)


def test_the_second_step_follows_the_same_formula() -> None:
    # v² = 4·(1/4)/(4 - v¹) / ((3/4)/v¹ + (1/4)/(4 - v¹)) = 4v/(12 - 2v) at v = 0.4: 1/7.
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=2, ftol=0))

    median = aggregator.aggregate([point(0.0, 0.0), point(4.0, 0.0)], [3.0, 1.0])

    torch.testing.assert_close(median, point(1 / 7, 0.0), rtol=0, atol=1e-15)


@pytest.mark.parametrize("outlier", [10.0, 1000.0])
def test_three_points_meet_at_the_fermat_point_wherever_the_outlier_is(outlier: float) -> None:
    # Base (0,0), (2,0), apex (1,h) with every angle < 120°: the median is the point
    # that sees the base at 120°, (1, tan 30°) = (1, 1/√3), whatever h is.
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=100, ftol=0))

    median = aggregator.aggregate([point(0.0, 0.0), point(2.0, 0.0), point(1.0, outlier)], [1.0] * 3)

    torch.testing.assert_close(median, point(1.0, 1 / math.sqrt(3)), rtol=0, atol=1e-6)


def test_a_point_holding_half_the_weight_or_more_is_the_median() -> None:
    # α = (5/7, 1/7, 1/7): the pull of the other two (at most 2/7) cannot beat 5/7.
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=100, ftol=0))

    median = aggregator.aggregate([point(0.0, 0.0), point(4.0, 0.0), point(0.0, 4.0)], [5.0, 1.0, 1.0])

    torch.testing.assert_close(median, point(0.0, 0.0), rtol=0, atol=1e-5)


def test_the_centre_of_a_symmetric_set_is_a_fixed_point() -> None:
    # The square's centre is both the mean (v⁰) and the median: every step keeps it.
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=5, ftol=0))
    square = [point(1.0, 1.0), point(-1.0, 1.0), point(-1.0, -1.0), point(1.0, -1.0)]

    median = aggregator.aggregate(square, [1.0] * 4)

    torch.testing.assert_close(median, point(0.0, 0.0), rtol=0, atol=1e-15)


def test_a_zero_weight_update_does_not_pull() -> None:
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=1))

    median = aggregator.aggregate([point(0.0, 0.0), point(4.0, 0.0), point(99.0, 99.0)], [3.0, 1.0, 0.0])

    torch.testing.assert_close(median, point(0.4, 0.0), rtol=0, atol=1e-15)


def test_counters_take_the_last_steps_weights_and_stay_integers() -> None:
    # β after one step from v⁰ = 1 (see above) is (3/4, 1/12): the counter is (0·9 + 12·1)/10 = 1.2 → 1.
    updates = [
        {"w": torch.tensor([0.0], dtype=torch.float32), "n": torch.tensor(0)},
        {"w": torch.tensor([4.0], dtype=torch.float32), "n": torch.tensor(12)},
    ]

    median = GeoMedian(GeoMedianConfig(max_iterations=1)).aggregate(updates, [3.0, 1.0])

    assert median["w"].dtype == torch.float32
    assert median["n"].dtype == torch.int64
    assert median["n"].item() == 1
    torch.testing.assert_close(median["w"], torch.tensor([0.4]), rtol=0, atol=1e-7)


def test_it_stops_early_once_a_step_no_longer_lowers_the_objective() -> None:
    # From the square's centre no step lowers the objective: one step, then stop, β = α / √2.
    aggregator = GeoMedian(GeoMedianConfig(max_iterations=50))
    square = [point(1.0, 1.0), point(-1.0, 1.0), point(-1.0, -1.0), point(1.0, -1.0)]

    beta = aggregator.weiszfeld_weights(square, [1.0] * 4)

    assert beta == pytest.approx([0.25 / math.sqrt(2)] * 4, rel=1e-15)


def test_the_topology_table_builds_it_and_names_a_bad_field() -> None:
    config = ADAPTER.validate_python({"kind": "geomedian", "max_iterations": 3, "nu": 1e-4})

    assert isinstance(build_aggregator(config), GeoMedian)
    assert config == GeoMedianConfig(max_iterations=3, nu=1e-4)
    with pytest.raises(pydantic.ValidationError, match=r"geomedian\.nu\n.*greater than 0"):
        ADAPTER.validate_python({"kind": "geomedian", "nu": 0})


def test_the_worked_example_in_the_docs_is_the_file_in_full() -> None:
    root = Path(__file__).resolve().parents[3]
    source = (root / "actors/server/aggregators/geomedian.py").read_text(encoding="utf-8")
    docs = (root / "docs/extending.md").read_text(encoding="utf-8")

    assert f"```python\n{source}```" in docs
