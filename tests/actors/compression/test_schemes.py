"""Each scheme's round trip: its error bound, QSGD's unbiasedness, top-k's error feedback."""

from __future__ import annotations

import pytest
import torch

from actors.compression import CompressionDecodeError, Fp16Config, QsgdConfig, TopkConfig


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _round_trip(config: object, tensor: torch.Tensor, seed: int = 0) -> torch.Tensor:
    scheme = config.build()  # type: ignore[attr-defined]
    return scheme.decode(scheme.encode("w", tensor, _gen(seed)), tensor.numel())


def test_fp16_round_trip_is_within_half_precisions_relative_error() -> None:
    values = torch.randn(1000, generator=_gen()) * 10

    back = _round_trip(Fp16Config(), values)

    assert back.dtype == torch.float32
    assert torch.all((back - values).abs() <= values.abs() * 2.0**-11)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_qsgd_is_off_by_less_than_a_buckets_norm_over_its_levels(bits: int) -> None:
    values = torch.randn(1300, generator=_gen())
    levels = 2 ** (bits - 1) - 1
    bucket = 512

    back = _round_trip(QsgdConfig(bits=bits, bucket_size=bucket), values)

    padded = torch.cat([values, torch.zeros(-1300 % bucket)]).view(-1, bucket)
    bound = (padded.norm(dim=1) / levels).repeat_interleave(bucket)[:1300]
    assert torch.all((back - values).abs() <= bound * (1 + 1e-6))


def test_qsgd_two_bits_sends_each_value_as_zero_or_the_norm_with_its_sign() -> None:
    values = torch.tensor([3.0, -4.0])  # norm 5, one level a sign: 0 or ±5

    back = _round_trip(QsgdConfig(bits=2), values)

    assert set(back.abs().tolist()) <= {0.0, 5.0}
    assert torch.all(back * values >= 0)


def test_qsgd_is_unbiased_over_many_draws() -> None:
    values = torch.randn(16, generator=_gen(1))
    scheme = QsgdConfig(bits=4, bucket_size=16).build()
    draws = 4000
    copies = values.repeat(draws)  # one bucket a copy: 4000 independent draws of Q(values)

    mean = scheme.decode(scheme.encode("w", copies, _gen()), copies.numel()).view(draws, 16).mean(dim=0)

    # each draw is off by at most norm/7 per value: the mean's standard error is below norm/(7·2·√draws)
    sigma = float(values.norm()) / 7 / 2 / draws**0.5
    assert torch.all((mean - values).abs() < 5 * sigma)


def test_qsgd_packs_two_four_bit_values_a_byte_and_one_norm_a_bucket() -> None:
    payload = QsgdConfig(bits=4, bucket_size=4).build().encode("w", torch.arange(5.0), _gen())

    assert payload["q"].dtype == torch.uint8
    assert payload["q"].numel() == 3  # ceil(5 · 4 / 8)
    assert payload["norms"].tolist() == pytest.approx([14**0.5, 4.0])  # ‖0,1,2,3‖, ‖4‖


def test_qsgd_same_generator_seed_gives_the_same_bytes() -> None:
    values = torch.randn(100, generator=_gen())
    scheme = QsgdConfig(bits=4).build()

    first, again, other = (scheme.encode("w", values, _gen(s))["q"] for s in (7, 7, 8))

    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_topk_sends_the_largest_values_and_carries_the_rest_to_the_next_task() -> None:
    scheme = TopkConfig(fraction=0.5).build()

    first = scheme.decode(scheme.encode("w", torch.tensor([1.0, -3.0, 0.5, 2.0]), _gen()), 4)
    after_first = scheme.residual["w"].clone()
    second = scheme.decode(scheme.encode("w", torch.tensor([0.5, 0.1, 0.2, -0.1]), _gen()), 4)

    assert first.tolist() == [0.0, -3.0, 0.0, 2.0]
    assert after_first.tolist() == [1.0, 0.0, 0.5, 0.0]
    # e = [0.5, 0.1, 0.2, -0.1] + [1, 0, 0.5, 0] = [1.5, 0.1, 0.7, -0.1]: top 2 are 1.5 and 0.7
    assert second.tolist() == pytest.approx([1.5, 0.0, 0.7, 0.0])
    assert scheme.residual["w"].tolist() == pytest.approx([0.0, 0.1, 0.0, -0.1])


def test_topk_without_error_feedback_forgets_what_it_left_out() -> None:
    scheme = TopkConfig(fraction=0.5, error_feedback=False).build()

    scheme.encode("w", torch.tensor([1.0, -3.0, 0.5, 2.0]), _gen())
    second = scheme.decode(scheme.encode("w", torch.tensor([0.5, 0.1, 0.2, -0.1]), _gen()), 4)

    assert scheme.residual == {}
    assert second.tolist() == pytest.approx([0.5, 0.0, 0.2, 0.0])


def test_topk_keeps_a_ceiling_share_of_values_and_at_most_all() -> None:
    scheme = TopkConfig(fraction=0.01).build()

    assert [scheme.keep(n) for n in (1, 99, 100, 101, 10_000)] == [1, 1, 1, 2, 100]


@pytest.mark.parametrize(
    ("config", "payload", "says"),
    [
        (Fp16Config(), {"h": torch.zeros(3)}, "torch.float16 of 4 values"),
        (QsgdConfig(bits=8), {"norms": torch.ones(1), "q": torch.zeros(3, dtype=torch.uint8)}, "'q'"),
        (QsgdConfig(bits=4), {"norms": torch.ones(1), "q": torch.full((2,), 255, dtype=torch.uint8)}, "±7"),
        (TopkConfig(fraction=0.5), {"i": torch.tensor([0, 9]).int(), "v": torch.ones(2)}, "[0, 4)"),
    ],
)
def test_a_malformed_payload_is_refused_saying_what_it_expected(
    config: object, payload: dict[str, torch.Tensor], says: str
) -> None:
    with pytest.raises(CompressionDecodeError) as caught:
        config.build().decode(payload, 4)  # type: ignore[attr-defined]

    assert says in str(caught.value)
