"""CURVE keys for a run: `fedactors keys new`, and the keys each node of a run uses.

    fedactors keys new run --dir keys     # keys/run.key (public), keys/run.key_secret (0600)

With `[security] curve` on, every node (the launcher's included) loads its key
pair `keys_dir/NAME.key_secret` (NAME from `security.key_of(node_id)`), admits
the peers whose public key is one of `keys_dir/*.key`, and expects each peer
to prove the public key of the pair that peer uses. See `docs/security.md`.
"""

from __future__ import annotations

from pathlib import Path

from actors.errors import KeyFileError
from actors.transport.curve import (
    CurveConfig,
    key_paths,
    read_allowed_keys,
    read_key_pair,
    read_public_key,
    write_key_pair,
)
from actors.transport.zeromq import ZmqConfig, curve_public_key, new_curve_key_pair
from topologies.spec import RunSpec
from topologies.specs.security import SecuritySpec, resolve_security


def new_keys(name: str, directory: Path) -> tuple[Path, Path]:
    """Make a fresh key pair: `(DIR/NAME.key, DIR/NAME.key_secret)`.

    Raises:
        KeyFileError: a key of that name exists already in `directory`.
        ValueError: `name` is not a plain file name.
    """
    public, secret = new_curve_key_pair()
    return write_key_pair(directory, name, public, secret)


def load_key_pair(path: Path) -> tuple[str, str]:
    """`(public, secret)` from a `.key_secret` file, checked to belong together.

    Raises:
        KeyFileError: the file is missing, malformed, readable by others, or
            its public key is not the one of its secret key.
    """
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
    run_key = key_paths(keys_dir, security.key)[0]
    return CurveConfig(
        public_key=public,
        secret_key=secret,
        allowed_clients=read_allowed_keys(keys_dir),
        server_keys={n: read_public_key(key_paths(keys_dir, k)[0]) for n, k in security.node_keys.items()},
        default_server_key=read_public_key(run_key) if run_key.exists() else None,
    )


def node_zmq_config(security: SecuritySpec, node_id: str, keys_dir: Path | None = None) -> ZmqConfig:
    """The transport config of node `node_id`: CURVE per `security` (see `node_curve`).

    Raises:
        KeyFileError: a key file it needs is missing or malformed.
    """
    return ZmqConfig(curve=node_curve(security, node_id, keys_dir))


def with_security_resolved(spec: RunSpec, all_hosts_local: bool) -> RunSpec:
    """`spec` with `security.curve = "auto"` replaced by on (some host is remote) or off.

    A launcher calls this before it writes the spec its nodes read.
    """
    return spec.model_copy(update={"security": resolve_security(spec.security, all_hosts_local)})


def check_keys(security: SecuritySpec) -> None:
    """With `curve = true`, load the launcher's keys now, so a missing or malformed
    key file is refused before any process starts (`auto` is checked once resolved).

    Raises:
        KeyFileError: naming the file.
    """
    from launcher.node_main import LAUNCHER_NODE  # node_main imports this module

    if security.curve is True:
        node_curve(security, LAUNCHER_NODE)
