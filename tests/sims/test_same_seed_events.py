"""Speed-ups (issue 19) and the architecture step (issue 13) change no event: same seed, same log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sims.same_seed import RECORDED, RUNS, events_without_wall_time
from tests.sims.same_seed_examples import EXAMPLES, example_events, needs_missing_data
from tests.sims.same_seed_examples import RECORDED as RECORDED_EXAMPLES


@pytest.mark.parametrize("name", sorted(RUNS))
def test_same_seed_run_writes_the_events_recorded_before_the_speed_ups(name: str, tmp_path: Path) -> None:
    recorded = (RECORDED / f"{name}.jsonl").read_text().splitlines()

    events = events_without_wall_time(RUNS[name], tmp_path)

    assert events == recorded


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_simulates_to_the_events_recorded_before_the_architecture_step(
    name: str, tmp_path: Path
) -> None:
    example = EXAMPLES[name]
    if needs_missing_data(example):
        pytest.skip(f"{example.name} reads Fashion-MNIST, not installed (apt: dataset-fashion-mnist)")
    recorded = (RECORDED_EXAMPLES / f"{name}.jsonl").read_text().splitlines()

    events = example_events(example, tmp_path)

    assert events == recorded
