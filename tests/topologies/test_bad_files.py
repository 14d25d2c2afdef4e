"""The bad-input corpus: every file of tests/topologies/bad/ is refused the same way by
`validate` and `run`: exit 2, one short message naming the field, no traceback, nothing started.

Each file says what is wrong with it in its first two lines:
`# mistake: ...` and `# field: <the dotted field the refusal must name>`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher import cli

BAD = Path(__file__).parent / "bad"
FILES = sorted(BAD.glob("*.toml"))
#: An error message is a few lines; a file's huge value is never echoed whole.
MAX_MESSAGE_CHARS = 1000


def _field(path: Path) -> str:
    header = path.read_bytes().decode("latin-1").splitlines()[1]
    assert header.startswith("# field: "), f"{path.name} does not say which field is at fault"
    return header.removeprefix("# field: ")


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that got past the checks would call one of these: each fails the test."""

    def started(*args: object, **kwargs: object) -> None:
        raise AssertionError("a run started for a file that should have been refused")

    monkeypatch.setattr("launcher.run.run_local", started)
    monkeypatch.setattr("launcher.run.run_sim", started)


def test_the_corpus_has_one_file_per_kind_of_mistake() -> None:
    mistakes = [p.read_bytes().decode("latin-1").splitlines()[0] for p in FILES]

    assert len(FILES) >= 30
    assert all(m.startswith("# mistake: ") for m in mistakes)
    assert len(set(mistakes)) == len(mistakes)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_validate_and_run_refuse_a_bad_file_alike_naming_the_field(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], nothing_starts: None
) -> None:
    run_dir = tmp_path / "run"

    validated = cli.main(["validate", str(path)])
    said_by_validate = capsys.readouterr()
    ran = cli.main(["run", str(path), "--out", str(run_dir)])
    said_by_run = capsys.readouterr()

    assert (validated, ran) == (2, 2)
    assert said_by_validate.err == said_by_run.err
    assert said_by_validate.out == said_by_run.out == ""
    assert f": {_field(path)}: " in said_by_validate.err
    assert said_by_validate.err.startswith(f"fedactors: {path}")
    assert "Traceback" not in said_by_validate.err
    assert len(said_by_validate.err) < MAX_MESSAGE_CHARS
    assert not run_dir.exists()


@pytest.mark.slow
def test_the_console_command_refuses_a_module_that_raises_on_import_without_a_traceback(
    tmp_path: Path,
) -> None:
    path = BAD / "model_module_raises.toml"

    result = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # the module is found next to the file, not in the working directory
        check=False,
    )

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "model.path: import path 'raises_on_import:build': importing 'raises_on_import' raised " in (
        result.stderr
    )
    assert "RuntimeError: this module refuses to be imported (" in result.stderr
