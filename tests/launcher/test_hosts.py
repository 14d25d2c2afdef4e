"""The hosts file: defaults, refusals that name the field, and `fedactors launch --dry-run`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher.hosts import HostsFileError, parse_hosts
from launcher.launch import plan_launch
from topologies.load import load_topology

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "topologies" / "examples"

GOOD = """\
backend = "ssh"
[launcher]
advertise = "10.0.0.1"
[defaults]
user = "fl"
python = "/srv/fa/.venv/bin/python"
[hosts.alpha]
address = "10.0.0.2"
[hosts.beta]
address = "10.0.0.3"
advertise = "203.0.113.7"
processes = 2
user = "other"
[placement]
processes_per_host = 1
pins = { "client-019" = "alpha" }
"""


def fedactors(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "launcher.cli", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_hosts_inherit_defaults_and_override_them_in_file_order() -> None:
    alpha, beta = parse_hosts(GOOD).resolved()

    assert (alpha.name, alpha.user, alpha.python, alpha.processes, alpha.dial) == (
        "alpha",
        "fl",
        "/srv/fa/.venv/bin/python",
        1,
        "10.0.0.2",
    )
    assert (beta.user, beta.processes, beta.target, beta.dial) == ("other", 2, "10.0.0.3", "203.0.113.7")


@pytest.mark.parametrize(
    ("old", "new", "field", "line"),
    [
        ('user = "fl"', 'usr = "fl"', "defaults.usr", 5),
        ("processes = 2", "processes = 0", "hosts.beta.processes", 12),
        ('"client-019" = "alpha"', '"client-019" = "delta"', "placement.pins.client-019", 16),
        ('advertise = "10.0.0.1"', 'bind = "0.0.0.0"', "launcher.advertise", None),
        ('backend = "ssh"', 'backend = "telnet"', "backend", 1),
    ],
)
def test_a_bad_hosts_file_is_refused_naming_the_field_and_line(
    old: str, new: str, field: str, line: int | None
) -> None:
    with pytest.raises(HostsFileError) as caught:
        parse_hosts(GOOD.replace(old, new), "hosts.toml")

    assert caught.value.fields == [field]
    assert caught.value.problems[0].line == line


def test_a_hosts_file_that_is_not_toml_is_refused() -> None:
    with pytest.raises(HostsFileError, match=r"hosts.toml: toml: Invalid value \(at line 2"):
        parse_hosts("[hosts.a]\naddress = \n", "hosts.toml")


def test_dry_run_prints_host_then_node_then_actors(tmp_path: Path) -> None:
    (tmp_path / "hosts.toml").write_text(GOOD)

    result = fedactors(
        "launch", str(EXAMPLES / "fedasync.toml"), "--hosts", str(tmp_path / "hosts.toml"), "--dry-run"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "fedasync-digits: 21 actors in 3 node processes on 2 hosts (backend ssh)",
        "security: CURVE on every link; a key pair per node in keys/ (launcher: launcher), "
        "missing ones made at launch; each host gets only its node's secret",
        "alpha (fl@10.0.0.2:22)",
        "  node-0: server, client-019 [key node-0]",
        "beta (other@10.0.0.3:22)",
        "  node-1: client-000..client-009 (10) [key node-1]",
        "  node-2: client-010..client-018 (9) [key node-2]",
    ]


def test_a_pin_on_an_unknown_actor_is_refused_naming_the_pin_and_its_line(tmp_path: Path) -> None:
    (tmp_path / "hosts.toml").write_text(GOOD.replace('"client-019"', '"client-99"'))
    spec = load_topology(EXAMPLES / "fedasync.toml")

    with pytest.raises(HostsFileError) as caught:
        plan_launch(spec, tmp_path / "hosts.toml")

    assert f"{tmp_path / 'hosts.toml'}:16: placement.pins.client-99: pins 'client-99'" in str(caught.value)
