"""Quiet ends: a run's normal end prints no warning and no traceback, and a traceback means exit code 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import structlog

from actors.logs import configure_logging, tracebacks_logged
from launcher import cli

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "topologies" / "examples").glob("*.toml"))
NOISE = re.compile(r"warning|traceback|\[error", re.IGNORECASE)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_every_example_ends_in_sim_mode_with_no_warning_and_no_traceback(
    example: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brief = ["--set", "stop.max_versions=4", "--set", "stop.max_time_s=30"]
    before = tracebacks_logged()

    code = cli.main(["run", str(example), "--mode", "sim", "--out", str(tmp_path), *brief])

    configure_logging("warning")
    console = capsys.readouterr()
    assert code == 0, console.err
    assert tracebacks_logged() == before
    assert NOISE.search(console.out + console.err) is None, console.err
    # whichever bound comes first (FedProx's 20-epoch rounds pass 30 simulated seconds first)
    reason = json.loads((tmp_path / "summary.json").read_text())["finish_reason"]
    assert reason in {"max_versions", "max_time_s"}


def test_a_command_that_logged_a_traceback_exits_with_1_even_when_its_run_finished(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run_that_logs_a_failure(args: object) -> int:
        try:
            raise RuntimeError("a handler broke")
        except RuntimeError:
            structlog.get_logger().exception("handler_failed")
        return 0

    monkeypatch.setattr(cli, "_cmd_validate", run_that_logs_a_failure)
    before = tracebacks_logged()

    code = cli.main(["validate", "any.toml"])

    configure_logging("warning")
    assert code == 1
    assert tracebacks_logged() == before + 1
    assert "traceback(s) logged above: exit code 1" in capsys.readouterr().err
