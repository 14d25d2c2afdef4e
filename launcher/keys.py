"""CURVE keys for a run: `fedactors keys new`, the pairs a launcher makes and ships, and
the keys each node of a run uses.

    fedactors keys new node-0 --dir keys   # keys/node-0.key (public), keys/node-0.key_secret (0600)

With `[security] curve` on, every node (the launcher's included) loads its key
pair `keys_dir/NAME.key_secret` (NAME from `security.key_of(node_id)`: its own
id by default), admits the peers whose public key is one of `keys_dir/*.key`,
and expects each peer to prove the public key of the pair that peer uses.

With a pair per node (no shared `key`, the default), the launcher makes the
missing pairs in its `keys_dir` before any process starts (`make_node_keys`),
and a node started on another host over stdin (ssh, slurm) gets, after the
topology line, a second line with its own secret and every public key
(`node_stdin`); it writes them into `keys_dir/nodes/NODE` on its host (0700
directory, 0600 files) and reads them from there (`install_shipped_keys`).
No host ever receives another node's secret. See `docs/security.md`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from actors.errors import KeyFileError
from actors.transport.curve import (
    KEY_NAME,
    PUBLIC_SUFFIX,
    SECRET_SUFFIX,
    CurveConfig,
    check_private,
    key_paths,
    read_allowed_keys,
    read_key_pair,
    read_public_key,
    read_public_keys,
    write_key_pair,
)
from launcher.rendezvous import LAUNCHER_NODE
from topologies.spec import RunSpec
from topologies.specs.security import SecuritySpec, resolve_security

if TYPE_CHECKING:
    from actors.transport.zeromq import ZmqConfig


log = structlog.get_logger("launcher.keys")


def new_keys(name: str, directory: Path) -> tuple[Path, Path]:
    """Make a fresh key pair: `(DIR/NAME.key, DIR/NAME.key_secret)`.

    Raises:
        KeyFileError: a key of that name exists already in `directory`.
        ValueError: `name` is not a plain file name.
    """
    from actors.transport.zeromq import new_curve_key_pair  # zmq and torch (its codec) only when used

    public, secret = new_curve_key_pair()
    return write_key_pair(directory, name, public, secret)


def load_key_pair(path: Path) -> tuple[str, str]:
    """`(public, secret)` from a `.key_secret` file, checked to belong together.

    Raises:
        KeyFileError: the file is missing, malformed, readable by others, or
            its public key is not the one of its secret key.
    """
    from actors.transport.zeromq import curve_public_key

    public, secret = read_key_pair(path)
    if curve_public_key(secret) != public:
        raise KeyFileError(str(path), "its public-key does not belong to its secret-key")
    return public, secret


def node_curve(security: SecuritySpec, node_id: str, keys_dir: Path | None = None) -> CurveConfig | None:
    """The CURVE keys of node `node_id`, or None when `security.curve` is false.

    An unresolved `auto` counts as on: a node cannot see whether the run spans
    hosts, so it fails closed (the launcher resolves `auto` before writing the spec).

    Args:
        security: the run's `[security]` table.
        node_id: the node (`launcher`, `node-0`, ...).
        keys_dir: where the keys are on this host (default: `security.keys_dir`).

    Raises:
        KeyFileError: a key file it needs is missing or malformed.
    """
    if security.curve is False:
        return None
    keys_dir = keys_dir or security.keys_dir
    public, secret = load_key_pair(key_paths(keys_dir, security.key_of(node_id))[1])
    named = {n: read_public_key(key_paths(keys_dir, k)[0]) for n, k in security.node_keys.items()}
    if security.per_node:  # a pair per node: node n proves keys_dir/n.key
        return CurveConfig(public, secret, read_allowed_keys(keys_dir), read_public_keys(keys_dir) | named)
    assert security.key is not None  # not per_node: one shared key is named
    run_key = key_paths(keys_dir, security.key)[0]
    return CurveConfig(
        public_key=public,
        secret_key=secret,
        allowed_clients=read_allowed_keys(keys_dir),
        server_keys=named,
        default_server_key=read_public_key(run_key) if run_key.exists() else None,
    )


def node_zmq_config(security: SecuritySpec, node_id: str, keys_dir: Path | None = None) -> ZmqConfig:
    """The transport config of node `node_id`: CURVE per `security` (see `node_curve`).

    Raises:
        KeyFileError: a key file it needs is missing or malformed.
    """
    from actors.transport.zeromq import ZmqConfig

    return ZmqConfig(curve=node_curve(security, node_id, keys_dir))


def with_security_resolved(spec: RunSpec, all_hosts_local: bool) -> RunSpec:
    """`spec` with `security.curve = "auto"` replaced by on (some host is remote) or off.

    A launcher calls this before it writes the spec its nodes read.
    """
    return spec.model_copy(update={"security": resolve_security(spec.security, all_hosts_local)})


def check_keys(security: SecuritySpec) -> None:
    """With `curve = true`, load the launcher's keys now, so a missing or malformed
    key file is refused before any process starts (`auto` is checked once resolved).
    A pair the launcher makes when missing (a pair per node) need not exist yet;
    the keys that do are checked.

    Raises:
        KeyFileError: naming the file.
    """
    if security.curve is not True:
        return
    if not made_for(security, LAUNCHER_NODE) or key_paths(security.keys_dir, LAUNCHER_NODE)[1].exists():
        node_curve(security, LAUNCHER_NODE)
    elif security.keys_dir.exists():
        check_private(security.keys_dir)
        if any(security.keys_dir.glob(f"*{PUBLIC_SUFFIX}")):
            read_public_keys(security.keys_dir)


# -- a pair per node: made by the launcher, shipped to each host ------------------------

SHIPPED_DIR = "nodes"  # a node's shipped keys go to keys_dir/nodes/NODE on its host


def made_for(security: SecuritySpec, node_id: str) -> bool:
    """Whether the launcher makes node `node_id`'s pair when it is missing: a pair
    per node, and `node_keys` does not name another one for it."""
    return security.per_node and security.key_of(node_id) == node_id


def make_node_keys(security: SecuritySpec, node_ids: list[str]) -> list[str]:
    """With CURVE on and a pair per node, make every missing pair of `node_ids` in
    `keys_dir` (0700 when it is new); the names made, in order.

    Raises:
        KeyFileError: the keys directory is not private (see `read_allowed_keys`).
    """
    if security.curve is not True:
        return []
    made = []
    for node_id in (n for n in node_ids if made_for(security, n)):
        if not key_paths(security.keys_dir, node_id)[1].exists():
            security.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            new_keys(node_id, security.keys_dir)
            made.append(node_id)
    if made:
        log.info("key_pairs_made", names=made, keys_dir=str(security.keys_dir))
    return made


def shipped_keys(security: SecuritySpec, node_id: str) -> dict[str, Any] | None:
    """What node `node_id` on another host gets: its own pair and every public key
    (`{"dir": ..., "secret": {NAME: text}, "public": {NAME: text}}`), or None
    when nothing is shipped (CURVE off, a shared `key`, or its secret not here)."""
    if not ships_keys(security):
        return None
    name = security.key_of(node_id)
    secret = key_paths(security.keys_dir, name)[1]
    if not secret.exists():  # kept on its host by hand: that host's keys_dir is used
        return None
    load_key_pair(secret)  # refuse a loose or broken secret before shipping it
    paths = [key_paths(security.keys_dir, n)[0] for n in read_public_keys(security.keys_dir)]  # checked
    public = {path.name: path.read_text(encoding="utf-8") for path in paths}
    directory = security.keys_dir / SHIPPED_DIR / node_id
    own = {secret.name: secret.read_text(encoding="utf-8")}
    return {"dir": str(directory), "secret": own, "public": public}


def node_stdin(spec_text: str, node_id: str) -> str:
    """The stdin of node `node_id` started on another host: the topology (one line,
    its `keys_dir` pointing at the shipped keys) and, with a pair per node, the
    line of `shipped_keys`."""
    data = json.loads(spec_text)
    security = SecuritySpec.model_validate(data.get("security", {}))
    if not ships_keys(security):
        return json.dumps(data) + "\n"
    shipped = shipped_keys(security, node_id) or {}
    if shipped:
        data["security"]["keys_dir"] = shipped["dir"]
    return json.dumps(data) + "\n" + json.dumps(shipped) + "\n"


def ships_keys(security: SecuritySpec) -> bool:
    """Whether a remote node's stdin has a second line of shipped keys: CURVE on, a pair per node."""
    return security.curve is True and security.per_node


def install_shipped_keys(shipped: dict[str, Any]) -> Path | None:
    """Write the keys of `shipped_keys` into their directory (0700), each file 0600,
    replacing what was there (the allow-list is exactly the run's); the directory.

    Raises:
        KeyFileError: a file name or key in `shipped` is malformed.
    """
    if not shipped:
        return None
    directory = Path(shipped["dir"])
    files = shipped["secret"] | shipped["public"]
    for name in files:
        stem = name.removesuffix(SECRET_SUFFIX).removesuffix(PUBLIC_SUFFIX)
        if stem == name or not KEY_NAME.match(stem):
            raise KeyFileError(name, "is no key file name (NAME.key or NAME.key_secret)")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)
    for stale in directory.iterdir():
        if stale.name not in files and stale.is_file():
            stale.unlink()
    for name, text in files.items():
        _replace_private(directory / name, text)
    read_public_keys(directory)
    return directory


def _replace_private(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(partial, path)
