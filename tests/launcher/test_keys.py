"""`fedactors keys new`, key files, the `[security]` table, and a whole run over CURVE."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
import zmq.auth

from actors.errors import KeyFileError
from actors.transport.curve import read_allowed_keys, read_public_key
from launcher.cli import main
from launcher.keys import (
    install_shipped_keys,
    load_key_pair,
    make_node_keys,
    new_keys,
    node_curve,
    node_stdin,
    with_security_resolved,
)
from launcher.node_main import read_spec
from tests.launcher.test_run import fedactors
from topologies.errors import TopologyError
from topologies.load import load_topology, parse_topology
from topologies.specs.security import SecuritySpec, curve_enabled

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "topologies" / "examples" / "fedasync.toml"


def test_keys_new_writes_a_loadable_pair_whose_secret_only_its_owner_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["keys", "new", "run", "--dir", str(tmp_path / "keys")])

    public_path, secret_path = tmp_path / "keys" / "run.key", tmp_path / "keys" / "run.key_secret"
    public, secret = load_key_pair(secret_path)
    assert code == 0
    assert str(secret_path) in capsys.readouterr().out
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600
    assert read_public_key(public_path) == public
    assert "secret-key" not in public_path.read_text()
    assert zmq.auth.load_certificate(secret_path) == (public.encode(), secret.encode())  # pyzmq's format
    assert read_allowed_keys(tmp_path / "keys") == {public}


def test_keys_new_never_overwrites_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new_keys("run", tmp_path)
    before = (tmp_path / "run.key_secret").read_text()

    code = main(["keys", "new", "run", "--dir", str(tmp_path)])

    assert code == 2
    assert f"{tmp_path / 'run.key'}: exists already" in capsys.readouterr().err
    assert (tmp_path / "run.key_secret").read_text() == before


def test_a_missing_key_file_is_a_typed_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist") as caught:
        load_key_pair(tmp_path / "nobody.key_secret")

    assert caught.value.path == str(tmp_path / "nobody.key_secret")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text.replace("public-key", "publik-key"), "has no line public-key"),
        (lambda text: text.replace('secret-key = "', 'secret-key = "xx'), "secret-key is not 40 Z85"),
        (lambda text: text.split("    secret-key")[0], "has no secret-key line"),
        (lambda text: text.replace(text.split('public-key = "')[1][:40], "0" * 40), "does not belong"),
    ],
    ids=["no public key", "short secret", "public file given", "mismatched pair"],
)
def test_a_malformed_key_file_is_a_typed_error_naming_the_file(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    _public_path, secret_path = new_keys("run", tmp_path)
    secret_path.write_text(damage(secret_path.read_text()))

    with pytest.raises(KeyFileError, match=message) as caught:
        load_key_pair(secret_path)

    assert caught.value.path == str(secret_path)
    assert str(secret_path) in str(caught.value)


def test_a_secret_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    _public_path, secret_path = new_keys("run", tmp_path)
    secret_path.chmod(0o644)

    with pytest.raises(KeyFileError, match=r"readable by others \(mode 644\); run: chmod 600"):
        load_key_pair(secret_path)


def test_an_empty_keys_directory_admits_nobody_and_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"holds no \*.key file") as caught:
        read_allowed_keys(tmp_path)

    assert caught.value.path == str(tmp_path)


# -- the [security] table --------------------------------------------------------------


@pytest.mark.parametrize(
    ("curve", "all_hosts_local", "on"),
    [("auto", True, False), ("auto", False, True), (True, True, True), (False, False, False)],
)
def test_curve_auto_is_on_exactly_when_a_host_is_not_local(curve, all_hosts_local: bool, on: bool) -> None:  # type: ignore[no-untyped-def]
    assert curve_enabled(curve, all_hosts_local) is on


def test_a_launcher_writes_the_resolved_setting_into_the_spec_its_nodes_read() -> None:
    spec = load_topology(EXAMPLE)

    local = with_security_resolved(spec, all_hosts_local=True)
    remote = with_security_resolved(spec, all_hosts_local=False)

    assert spec.security.curve == "auto"
    assert (local.security.curve, remote.security.curve) == (False, True)
    assert json.loads(remote.model_dump_json())["security"]["curve"] is True


def test_an_unresolved_auto_makes_a_node_fail_closed(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"node-0\.key_secret"):
        node_curve(SecuritySpec(keys_dir=tmp_path), "node-0")


def test_a_typo_in_the_security_table_is_refused_naming_the_key() -> None:
    text = EXAMPLE.read_text() + '\n[security]\ncurve = true\nkey_dir = "keys"\n'

    with pytest.raises(TopologyError, match=r"security\.key_dir: unknown key"):
        parse_topology(text)


def test_each_node_uses_its_named_key_and_expects_each_peer_to_prove_its_own(tmp_path: Path) -> None:
    run_public = read_public_key(new_keys("run", tmp_path)[0])
    lab_public = read_public_key(new_keys("lab", tmp_path)[0])
    security = SecuritySpec(curve=True, keys_dir=tmp_path, key="run", node_keys={"launcher": "lab"})

    launcher = node_curve(security, "launcher")
    node = node_curve(security, "node-0")

    assert launcher is not None
    assert node is not None
    assert (launcher.public_key, node.public_key) == (lab_public, run_public)
    assert node.server_key("launcher") == lab_public
    assert node.server_key("node-1") == run_public
    assert node.allowed_clients == {run_public, lab_public}
    assert node_curve(security.model_copy(update={"curve": False}), "node-0") is None


def test_validate_refuses_curve_without_keys_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # no keys/ here
    curve_on = tmp_path / "curve.toml"
    curve_on.write_text(
        EXAMPLE.read_text() + '\n[security]\ncurve = true\nkeys_dir = "nokeys"\nkey = "run"\n'
    )

    auto_code = main(["validate", str(EXAMPLE)])
    curve_code = main(["validate", str(curve_on)])

    assert auto_code == 0  # auto needs no keys on one machine
    assert curve_code == 2
    assert "key file nokeys/run.key_secret: does not exist" in capsys.readouterr().err


# -- a whole run ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes; the 2-core CI machine may be busy
def test_a_run_over_curve_with_a_launcher_key_of_its_own_reaches_its_target(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    assert fedactors("keys", "new", "lab", "--dir", str(keys)).returncode == 0
    out = tmp_path / "run"

    result = fedactors(
        "run", str(EXAMPLE), "--out", str(out),
        "--set", "security.curve=true",
        "--set", f'security.keys_dir="{keys}"',
        "--set", 'security.node_keys={ launcher = "lab" }',
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finish_reason"] == "target_accuracy"
    resolved = json.loads((out / "topology.json").read_text())["security"]
    assert resolved["curve"] is True
    assert (resolved["key"], resolved["node_keys"]) == (None, {"launcher": "lab"})
    # the launcher made a pair for each of the 3 nodes (no shared pair), secrets 0600
    secrets = sorted(keys.glob("*.key_secret"))
    assert [p.name for p in secrets] == [f"{n}.key_secret" for n in ("lab", "node-0", "node-1", "node-2")]
    assert {stat.S_IMODE(p.stat().st_mode) for p in secrets} == {0o600}


@pytest.mark.parametrize("target", ["directory", "public key"])
def test_a_keys_directory_or_key_file_others_can_write_is_refused_saying_how_to_fix_it(
    tmp_path: Path, target: str
) -> None:
    public, _ = new_keys("run", tmp_path / "keys")
    path = tmp_path / "keys" if target == "directory" else public
    path.chmod(path.stat().st_mode | stat.S_IWGRP | stat.S_IWOTH)

    with pytest.raises(KeyFileError, match="writable by group or others") as raised:
        read_allowed_keys(tmp_path / "keys")

    assert str(path) in str(raised.value)
    assert f"run: chmod go-w {path}" in str(raised.value)


# -- a pair per node (the default) -------------------------------------------------------


def per_node(keys_dir: Path, nodes: tuple[str, ...] = ("launcher", "node-0", "node-1")) -> SecuritySpec:
    security = SecuritySpec(curve=True, keys_dir=keys_dir)
    make_node_keys(security, list(nodes))
    return security


def test_by_default_the_launcher_makes_each_missing_pair_privately_and_keeps_the_others(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    by_hand = new_keys("node-1", keys)[0].read_text()
    keys.chmod(0o755)
    security = SecuritySpec(curve=True, keys_dir=keys)

    made = make_node_keys(security, ["launcher", "node-0", "node-1"])

    assert made == ["launcher", "node-0"]
    assert (keys / "node-1.key").read_text() == by_hand  # never replaced
    assert {stat.S_IMODE(p.stat().st_mode) for p in keys.glob("*.key_secret")} == {0o600}
    fresh = tmp_path / "fresh"
    make_node_keys(security.model_copy(update={"keys_dir": fresh}), ["node-0"])
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert make_node_keys(security.model_copy(update={"key": "run"}), ["node-2"]) == []
    assert make_node_keys(security.model_copy(update={"curve": False}), ["node-2"]) == []
    assert not (keys / "node-2.key_secret").exists()


def test_by_default_each_node_proves_its_own_pair_and_another_nodes_key_is_not_its(tmp_path: Path) -> None:
    security = per_node(tmp_path / "keys")
    publics = {n: read_public_key(tmp_path / "keys" / f"{n}.key") for n in ("launcher", "node-0", "node-1")}

    node = node_curve(security, "node-0")

    assert node is not None
    assert node.public_key == publics["node-0"]
    assert [node.server_key(n) for n in publics] == list(publics.values())
    assert node.may_use(publics["node-1"], "node-1")
    assert not node.may_use(publics["node-1"], "node-0")
    assert not node.may_use(publics["node-1"], "node-7")  # a node id with no pair: no key admits it


def test_a_remote_node_is_shipped_its_own_secret_and_every_public_key_and_nothing_else(
    tmp_path: Path,
) -> None:
    security = per_node(tmp_path / "keys")
    spec = load_topology(EXAMPLE).model_copy(update={"security": security})
    secrets = {
        n: load_key_pair(tmp_path / "keys" / f"{n}.key_secret")[1] for n in ("launcher", "node-0", "node-1")
    }

    stdin = node_stdin(spec.model_dump_json(), "node-1")

    spec_line, keys_line = stdin.splitlines()
    shipped = json.loads(keys_line)
    assert json.loads(spec_line)["security"]["keys_dir"] == str(tmp_path / "keys" / "nodes" / "node-1")
    assert list(shipped["secret"]) == ["node-1.key_secret"]
    assert sorted(shipped["public"]) == ["launcher.key", "node-0.key", "node-1.key"]
    assert [n for n, secret in secrets.items() if secret in stdin] == ["node-1"]


def test_a_node_installs_its_shipped_keys_privately_replacing_stale_ones_and_uses_them(
    tmp_path: Path,
) -> None:
    security = per_node(tmp_path / "launcher-keys")
    spec = load_topology(EXAMPLE).model_copy(update={"security": security})
    shipped = json.loads(node_stdin(spec.model_dump_json(), "node-0").splitlines()[1])
    host_dir = tmp_path / "host" / "keys" / "nodes" / "node-0"
    host_dir.mkdir(parents=True)
    (host_dir / "intruder.key").write_text("left over from another run")

    install_shipped_keys(shipped | {"dir": str(host_dir)})

    assert sorted(p.name for p in host_dir.iterdir()) == [
        "launcher.key",
        "node-0.key",
        "node-0.key_secret",
        "node-1.key",
    ]
    assert stat.S_IMODE(host_dir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in host_dir.iterdir()} == {0o600}
    on_host = node_curve(security.model_copy(update={"keys_dir": host_dir}), "node-0")
    assert on_host == node_curve(security, "node-0")
    with pytest.raises(KeyFileError, match="is no key file name"):
        install_shipped_keys(shipped | {"dir": str(host_dir), "public": {"../evil.key": "x"}})


def test_with_one_shared_pair_or_without_curve_nothing_is_shipped(tmp_path: Path) -> None:
    new_keys("run", tmp_path)
    spec = load_topology(EXAMPLE)
    shared = SecuritySpec(curve=True, keys_dir=tmp_path, key="run")

    for security in (shared, SecuritySpec(curve=False, keys_dir=tmp_path)):
        text = spec.model_copy(update={"security": security}).model_dump_json()
        assert node_stdin(text, "node-0") == json.dumps(json.loads(text)) + "\n"


def test_validate_passes_a_pair_per_node_it_will_make_and_refuses_a_keys_dir_others_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    curve_on = tmp_path / "curve.toml"
    curve_on.write_text(EXAMPLE.read_text() + '\n[security]\ncurve = true\nkeys_dir = "keys"\n')

    fresh_code = main(["validate", str(curve_on)])  # no keys yet: run and launch make them
    (tmp_path / "keys").mkdir(mode=0o777)
    (tmp_path / "keys").chmod(0o777)
    loose_code = main(["validate", str(curve_on)])

    assert (fresh_code, loose_code) == (0, 2)
    assert "key file keys: is writable by group or others" in capsys.readouterr().err


def test_a_node_reading_its_stdin_installs_its_keys_and_points_keys_dir_at_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    security = per_node(tmp_path / "keys")
    spec = load_topology(EXAMPLE).model_copy(update={"security": security})
    monkeypatch.setattr("sys.stdin", io.StringIO(node_stdin(spec.model_dump_json(), "node-1")))

    read = read_spec("-")

    assert read.security.keys_dir == tmp_path / "keys" / "nodes" / "node-1"
    assert node_curve(read.security, "node-1") == node_curve(security, "node-1")
    assert sorted(p.name for p in read.security.keys_dir.glob("*.key_secret")) == ["node-1.key_secret"]
