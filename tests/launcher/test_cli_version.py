from __future__ import annotations

from importlib.metadata import version

import pytest

from launcher import cli


def test_version_prints_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"fedactors {version('fedactors')}\n"
