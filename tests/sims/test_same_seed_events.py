"""The per-update speed-ups (issue 19) change no event: same seed, same log, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sims.same_seed import RECORDED, RUNS, events_without_wall_time


@pytest.mark.parametrize("name", sorted(RUNS))
def test_same_seed_run_writes_the_events_recorded_before_the_speed_ups(name: str, tmp_path: Path) -> None:
    recorded = (RECORDED / f"{name}.jsonl").read_text().splitlines()

    events = events_without_wall_time(RUNS[name], tmp_path)

    assert events == recorded
