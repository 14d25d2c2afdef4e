"""The recorder's event log: a resumed run appends to it, even after a line torn by a kill."""

from __future__ import annotations

from pathlib import Path

from sims.recorder import Recorder
from sims.results import read_events


def test_a_resumed_recorder_appends_after_a_torn_line_without_losing_its_first_record(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text(
        '{"event":"model_updated","version":1}\n{"event":"model_upd'
    )  # the launcher was killed here

    recorder = Recorder(log, append=True)
    recorder.emit({"event": "run_resumed", "version": 1})
    recorder.close()

    assert read_events(log) == [
        {"event": "model_updated", "version": 1},
        {"event": "run_resumed", "version": 1},
    ]


def test_a_new_recorder_starts_the_log_afresh(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text('{"event":"model_updated","version":1}\n')

    recorder = Recorder(log)
    recorder.emit({"event": "client_joined"})
    recorder.close()

    assert read_events(log) == [{"event": "client_joined"}]
