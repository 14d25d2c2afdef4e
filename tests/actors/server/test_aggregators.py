"""Aggregators against hand-computed values, their input checks, and two invariants."""

from __future__ import annotations

import pydantic
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from actors.server.aggregators import (
    AggregatorConfig,
    CoordinateMedian,
    Krum,
    KrumConfig,
    MedianConfig,
    MultiKrum,
    MultiKrumConfig,
    NormClip,
    NormClipConfig,
    TrimmedMean,
    TrimmedMeanConfig,
    WeightedMean,
    WeightedMeanConfig,
    build_aggregator,
)
from actors.server.errors import (
    InvalidWeightsError,
    NonFiniteUpdateError,
    NoUpdatesError,
    TooFewUpdatesError,
)
from actors.statedict import StateDict, StateDictMismatchError

ADAPTER: TypeAdapter[AggregatorConfig] = TypeAdapter(AggregatorConfig)

ALL_CONFIGS = [
    WeightedMeanConfig(),
    MedianConfig(),
    TrimmedMeanConfig(trim_fraction=0.2),
    KrumConfig(byzantine=1),
    MultiKrumConfig(byzantine=1, m=2),
    NormClipConfig(max_norm=1.0),
]
IDS = [c.kind for c in ALL_CONFIGS]


def vector(*values: float) -> StateDict:
    return {"w": torch.tensor(values, dtype=torch.float32)}


def assert_sd_equal(actual: StateDict, expected: StateDict) -> None:
    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key].dtype == expected[key].dtype, key
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)


# --- hand-computed values -------------------------------------------------------------------


def test_weighted_mean_weights_each_update_by_its_share() -> None:
    updates = [vector(1.0, 2.0), vector(3.0, 6.0)]

    result = WeightedMean(WeightedMeanConfig()).aggregate(updates, [1.0, 3.0])

    # (1·1 + 3·3) / 4 = 2.5 and (1·2 + 3·6) / 4 = 5.
    assert_sd_equal(result, vector(2.5, 5.0))


def test_median_is_taken_per_coordinate() -> None:
    updates = [vector(1, 10), vector(5, -2), vector(3, 0), vector(100, 4), vector(2, 7)]

    result = CoordinateMedian(MedianConfig()).aggregate(updates, [1.0] * 5)

    # Column 0 sorted: 1 2 [3] 5 100; column 1 sorted: -2 0 [4] 7 10.
    assert_sd_equal(result, vector(3.0, 4.0))


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values() -> None:
    updates = [vector(1.0), vector(100.0), vector(2.0), vector(3.0)]

    result = CoordinateMedian(MedianConfig()).aggregate(updates, [1.0] * 4)

    assert_sd_equal(result, vector(2.5))


def test_median_ignores_the_weights() -> None:
    updates = [vector(1.0), vector(2.0), vector(30.0)]

    result = CoordinateMedian(MedianConfig()).aggregate(updates, [1.0, 1.0, 1000.0])

    assert_sd_equal(result, vector(2.0))


def test_trimmed_mean_drops_the_largest_and_smallest_per_coordinate() -> None:
    updates = [vector(1, 10), vector(7, -2), vector(3, 0), vector(100, 4), vector(2, 8)]

    result = TrimmedMean(TrimmedMeanConfig(trim_fraction=0.2)).aggregate(updates, [1.0] * 5)

    # ⌊0.2 · 5⌋ = 1 per end. Column 0 keeps 2 3 7, column 1 keeps 0 4 8: both average 4.
    assert_sd_equal(result, vector(4.0, 4.0))


def test_trimmed_mean_with_zero_fraction_is_the_plain_mean() -> None:
    updates = [vector(1.0), vector(2.0), vector(6.0)]

    result = TrimmedMean(TrimmedMeanConfig(trim_fraction=0.0)).aggregate(updates, [5.0, 1.0, 1.0])

    assert_sd_equal(result, vector(3.0))


def test_trimmed_count_uses_the_written_decimal() -> None:
    aggregator = TrimmedMean(TrimmedMeanConfig(trim_fraction=0.29))

    counts = aggregator.trimmed_count(100), aggregator.trimmed_count(3)

    # 0.29 · 100 is 28.999… in binary floats; the written 0.29 means 29.
    assert counts == (29, 0)


def krum_set() -> list[StateDict]:
    """Updates at 0, 1, 2, 4 on `w` and an outlier that is 100 away on `b`.

    With f = 1 each score sums the n - f - 2 = 2 smallest squared distances:
    score(0) = 1 + 4 = 5, score(1) = 1 + 1 = 2, score(2) = 1 + 4 = 5,
    score(4) = 4 + 9 = 13, score(outlier) = 10000 + 10001 = 20001.
    """
    good = [{"w": torch.tensor([v, 0.0]), "b": torch.tensor([0.0])} for v in (0.0, 1.0, 2.0, 4.0)]
    outlier = {"w": torch.tensor([0.0, 0.0]), "b": torch.tensor([100.0])}
    return [good[3], outlier, good[0], good[2], good[1]]


def test_krum_scores_and_picks_the_update_closest_to_its_neighbours() -> None:
    updates = krum_set()

    result = Krum(KrumConfig(byzantine=1)).aggregate(updates, [1.0] * 5)

    assert_sd_equal(result, {"w": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0])})


def test_krum_returns_a_copy_not_the_clients_tensors() -> None:
    updates = krum_set()

    result = Krum(KrumConfig(byzantine=1)).aggregate(updates, [1.0] * 5)
    result["w"][0] = 99.0

    assert updates[4]["w"].tolist() == [1.0, 0.0]


def test_multi_krum_averages_the_m_best_scored_updates() -> None:
    updates = krum_set()

    result = MultiKrum(MultiKrumConfig(byzantine=1, m=3)).aggregate(updates, [1.0] * 5)

    # Scores 2, 5, 5 select the updates at 1, 0 and 2: their mean is 1.
    assert_sd_equal(result, {"w": torch.tensor([1.0, 0.0]), "b": torch.tensor([0.0])})


def test_multi_krum_breaks_equal_scores_by_value_not_by_client_order() -> None:
    updates = krum_set()

    result = MultiKrum(MultiKrumConfig(byzantine=1, m=2)).aggregate(updates, [1.0] * 5)

    # Score 2 (at 1) first; 0 and 2 tie at 5 and the smaller, 0, wins: mean 0.5.
    assert_sd_equal(result, {"w": torch.tensor([0.5, 0.0]), "b": torch.tensor([0.0])})


def test_multi_krum_without_m_averages_n_minus_f_updates() -> None:
    updates = krum_set()

    result = MultiKrum(MultiKrumConfig(byzantine=1)).aggregate(updates, [1.0] * 5)

    # n - f = 4: every update but the outlier, (1 + 0 + 2 + 4) / 4 = 1.75.
    assert_sd_equal(result, {"w": torch.tensor([1.75, 0.0]), "b": torch.tensor([0.0])})


def test_krum_distances_ignore_integer_buffers() -> None:
    updates = krum_set()
    counters = [0, 0, 0, 0, 1_000_000]
    for update, count in zip(updates, counters, strict=True):
        update["num_batches_tracked"] = torch.tensor(count)

    result = Krum(KrumConfig(byzantine=1)).aggregate(updates, [1.0] * 5)

    assert result["w"].tolist() == [1.0, 0.0]
    assert result["num_batches_tracked"].item() == 1_000_000


def test_krum_needs_2f_plus_3_updates() -> None:
    updates = krum_set()[:4]

    with pytest.raises(TooFewUpdatesError) as info:
        Krum(KrumConfig(byzantine=1)).aggregate(updates, [1.0] * 4)

    assert str(info.value) == (
        "krum needs at least 5 updates (n >= 2f + 3 with byzantine f = 1), got 4; "
        "wait for more updates or lower the configured bound"
    )
    assert (info.value.required, info.value.actual) == (5, 4)


def test_multi_krum_needs_at_least_m_updates() -> None:
    updates = krum_set()

    with pytest.raises(TooFewUpdatesError, match=r"at least 6 updates \(m = 6 are averaged\), got 5"):
        MultiKrum(MultiKrumConfig(byzantine=1, m=6)).aggregate(updates, [1.0] * 5)


def test_norm_clip_scales_long_updates_down_to_max_norm_then_averages() -> None:
    long = vector(6.0, 8.0)
    short = vector(0.5, 0.0)

    result = NormClip(NormClipConfig(max_norm=2.5)).aggregate([long, short], [1.0, 1.0])

    # ‖(6, 8)‖ = 10 is clipped by 2.5/10 to (1.5, 2); the short one is kept; mean (1, 1).
    assert_sd_equal(result, vector(1.0, 1.0))


def test_norm_clip_measures_the_norm_across_all_floating_tensors() -> None:
    update = {"w": torch.tensor([3.0]), "b": torch.tensor([4.0]), "n": torch.tensor(10)}

    clipped = NormClip(NormClipConfig(max_norm=1.0)).clip(update)

    # Global norm 5: both tensors shrink by 1/5; the counter is not a parameter.
    torch.testing.assert_close(clipped["w"], torch.tensor([0.6]))
    torch.testing.assert_close(clipped["b"], torch.tensor([0.8]))
    assert clipped["n"].item() == 10


# --- input validation, the same for every aggregator ----------------------------------------


def three_updates() -> list[StateDict]:
    """Too few for Krum with f = 1: the input checks run before the count check."""
    return [vector(1.0, 2.0), vector(2.0, 3.0), vector(3.0, 4.0)]


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_no_updates_is_a_typed_error(config: AggregatorConfig) -> None:
    aggregator = build_aggregator(config)

    with pytest.raises(NoUpdatesError, match="aggregate needs at least one update, got none"):
        aggregator.aggregate([], [])


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_mismatched_keys_are_a_typed_error(config: AggregatorConfig) -> None:
    updates = three_updates()
    updates[1] = {"v": torch.zeros(2)}

    with pytest.raises(StateDictMismatchError, match=r"update 1: keys differ: missing \['w'\]"):
        build_aggregator(config).aggregate(updates, [1.0] * 3)


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_mismatched_shapes_are_a_typed_error(config: AggregatorConfig) -> None:
    updates = three_updates()
    updates[2] = {"w": torch.zeros(3)}

    with pytest.raises(StateDictMismatchError, match=r"update 2: key 'w' has shape \(3,\)"):
        build_aggregator(config).aggregate(updates, [1.0] * 3)


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_a_negative_weight_is_a_typed_error(config: AggregatorConfig) -> None:
    aggregator = build_aggregator(config)

    with pytest.raises(InvalidWeightsError, match=r"weight 1 must be finite and >= 0, got -0\.5"):
        aggregator.aggregate(three_updates(), [1.0, -0.5, 1.0])


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_all_zero_weights_are_a_typed_error(config: AggregatorConfig) -> None:
    aggregator = build_aggregator(config)

    with pytest.raises(InvalidWeightsError, match="at least one weight must be > 0, all are zero"):
        aggregator.aggregate(three_updates(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_one_weight_per_update_is_required(config: AggregatorConfig) -> None:
    aggregator = build_aggregator(config)

    with pytest.raises(InvalidWeightsError, match=r"one weight per update \(3\), got 2"):
        aggregator.aggregate(three_updates(), [1.0, 1.0])


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_a_nan_weight_is_a_typed_error(config: AggregatorConfig) -> None:
    aggregator = build_aggregator(config)

    with pytest.raises(InvalidWeightsError, match="weight 2 must be finite"):
        aggregator.aggregate(three_updates(), [1.0, 1.0, float("nan")])


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
def test_an_update_with_nan_is_a_typed_error(config: AggregatorConfig) -> None:
    updates = three_updates()
    updates[2] = vector(1.0, float("inf"))

    with pytest.raises(NonFiniteUpdateError, match="update 2 has NaN or infinite values in 'w'"):
        build_aggregator(config).aggregate(updates, [1.0] * 3)


# --- configs --------------------------------------------------------------------------------


def test_the_union_builds_the_aggregator_named_by_kind() -> None:
    config = ADAPTER.validate_python({"kind": "multi_krum", "byzantine": 2, "m": 3})

    aggregator = build_aggregator(config)

    assert isinstance(aggregator, MultiKrum)
    assert aggregator.config == MultiKrumConfig(byzantine=2, m=3)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"kind": "trimmed_mean", "trim_fraction": 0.5}, r"trimmed_mean\.trim_fraction\n.*less than 0\.5"),
        ({"kind": "krum", "byzantine": -1}, r"krum\.byzantine\n.*greater than or equal to 0"),
        ({"kind": "krum"}, r"krum\.byzantine\n.*Field required"),
        ({"kind": "norm_clip", "max_norm": 0}, r"norm_clip\.max_norm\n.*greater than 0"),
        ({"kind": "median", "beta": 0.1}, r"median\.beta\n.*Extra inputs"),
    ],
)
def test_bad_aggregator_tables_name_the_field(table: dict[str, object], message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        ADAPTER.validate_python(table)


# --- invariants -----------------------------------------------------------------------------

VALUES = st.floats(-100.0, 100.0, width=32, allow_subnormal=False)
WEIGHTS = st.floats(0.0, 100.0, allow_subnormal=False)
INVARIANT_CONFIGS = [*ALL_CONFIGS[:-1], NormClipConfig(max_norm=1e9)]


@st.composite
def update_sets(draw: st.DrawFn) -> tuple[list[StateDict], list[float]]:
    n = draw(st.integers(5, 8))
    sizes = {"w": 3, "b": 2}
    updates = [
        {k: torch.tensor(draw(st.lists(VALUES, min_size=s, max_size=s))) for k, s in sizes.items()}
        for _ in range(n)
    ]
    weights = draw(st.lists(WEIGHTS, min_size=n, max_size=n).filter(lambda w: any(x > 0 for x in w)))
    return updates, weights


@st.composite
def single_updates(draw: st.DrawFn) -> StateDict:
    return {"w": torch.tensor(draw(st.lists(VALUES, min_size=3, max_size=3)))}


@pytest.mark.parametrize("config", INVARIANT_CONFIGS, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(update=single_updates(), n=st.integers(5, 8), data=st.data())
def test_aggregating_identical_updates_returns_that_update(
    config: AggregatorConfig, update: StateDict, n: int, data: st.DataObject
) -> None:
    weights = data.draw(st.lists(WEIGHTS, min_size=n, max_size=n).filter(lambda w: any(x > 0 for x in w)))

    result = build_aggregator(config).aggregate([update] * n, weights)

    torch.testing.assert_close(result, update, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(drawn=update_sets(), data=st.data())
def test_the_order_of_the_clients_does_not_matter(
    config: AggregatorConfig, drawn: tuple[list[StateDict], list[float]], data: st.DataObject
) -> None:
    updates, weights = drawn
    order = data.draw(st.permutations(range(len(updates))))
    aggregator = build_aggregator(config)

    in_order = aggregator.aggregate(updates, weights)
    shuffled = aggregator.aggregate([updates[i] for i in order], [weights[i] for i in order])

    torch.testing.assert_close(shuffled, in_order, rtol=1e-5, atol=1e-4)
