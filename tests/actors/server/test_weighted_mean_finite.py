"""FedAvg's weighted mean checks finiteness on its result, and still names the update at fault."""

from __future__ import annotations

import pytest
import torch

from actors.server.aggregators import WeightedMeanConfig
from actors.server.aggregators.weighted_mean import WeightedMean
from actors.server.errors import NonFiniteUpdateError

NAN, INF = float("nan"), float("inf")


def _updates(*values: tuple[float, float]) -> list[dict[str, torch.Tensor]]:
    return [{"b": torch.tensor([1.0]), "w": torch.tensor(list(v))} for v in values]


@pytest.mark.parametrize(
    ("values", "weights", "message"),
    [
        (((1.0, 2.0), (NAN, 0.0), (3.0, 4.0)), [1.0, 1.0, 1.0], "update 1 has NaN or infinite values in 'w'"),
        (((1.0, 2.0), (0.0, INF)), [1.0, 0.0], "update 1 has NaN or infinite values in 'w'"),  # weight 0
        (((INF, 2.0), (-INF, 0.0)), [1.0, 1.0], "update 0 has NaN or infinite values in 'w'"),
    ],
)
def test_a_non_finite_update_is_named(
    values: tuple[tuple[float, float], ...], weights: list[float], message: str
) -> None:
    with pytest.raises(NonFiniteUpdateError, match=message):
        WeightedMean(WeightedMeanConfig()).aggregate(_updates(*values), weights)


def test_finite_updates_give_the_weighted_mean() -> None:
    mean = WeightedMean(WeightedMeanConfig()).aggregate(_updates((1.0, 2.0), (4.0, 8.0)), [2.0, 1.0])
    assert mean["w"].tolist() == [2.0, 4.0]  # (2*1 + 4) / 3, (2*2 + 8) / 3
    assert mean["b"].tolist() == [1.0]


def test_a_mean_that_overflows_from_finite_updates_is_returned_as_before() -> None:
    big = torch.finfo(torch.float32).max
    mean = WeightedMean(WeightedMeanConfig()).aggregate(_updates((big, 0.0), (big, 0.0)), [1.0, 1.0])
    assert mean["w"][0].item() in (big, INF)  # whatever the arithmetic gives: no error
