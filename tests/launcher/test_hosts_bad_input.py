"""A bad hosts file is refused like a bad topology file: no traceback, field and line named."""

from __future__ import annotations

from pathlib import Path

import pytest

from launcher.hosts import HostsFileError, load_hosts, parse_hosts

GOOD = """backend = "ssh"
[launcher]
advertise = "10.0.0.1"
[hosts.alpha]
address = "10.0.0.2"
"""


def _problems(text: str) -> list[tuple[str, int | None, str]]:
    with pytest.raises(HostsFileError) as info:
        parse_hosts(text, "hosts.toml")
    return [(p.field, p.line, p.message) for p in info.value.problems]


def test_a_port_written_as_a_string_is_refused_not_coerced() -> None:
    problems = _problems(GOOD + 'port = "22"\n')

    assert problems == [("hosts.alpha.port", 6, "Input should be a valid integer (got '22')")]


def test_more_processes_per_host_than_the_limit_are_refused() -> None:
    problems = _problems(GOOD + "[placement]\nprocesses_per_host = 1000\n")

    assert problems == [
        ("placement.processes_per_host", 7, "Input should be less than or equal to 64 (got 1000)")
    ]


def test_a_hosts_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts.toml"
    path.write_bytes(GOOD.encode() + b"# caf\xe9\n")

    with pytest.raises(HostsFileError) as info:
        load_hosts(path)

    (problem,) = info.value.problems
    assert (problem.field, problem.line, problem.message) == ("file", 6, "is not UTF-8 text (byte 0xe9)")


def test_a_hosts_file_nested_too_deeply_is_refused() -> None:
    problems = _problems(GOOD + "x = " + "[" * 5000 + "]" * 5000 + "\n")

    assert problems == [("toml", None, "tables or arrays are nested too deeply to read")]
