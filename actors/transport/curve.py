"""CURVE keys for the ZeroMQ transport: what a node proves, whom it lets in, whom it trusts.

Every node's socket is a CURVE *server* for the connections made to it and a
CURVE *client* for the connections it makes (see `actors.transport.zeromq`):

- it holds one key pair (`public_key`, `secret_key`);
- a connecting peer is let in only if its public key is in `allowed_clients`
  (the ZAP handler checks every handshake; anything else is refused before a
  single message of it is delivered);
- when it connects to node `n`, it requires `n` to prove `server_key(n)`: the
  key named in `server_keys`, else `default_server_key`, else its own public
  key (the common case of one key pair for the whole run).

Key files are those of `zmq.auth.create_certificates`: `NAME.key` holds the
public key (hand it out freely), `NAME.key_secret` the pair (mode 0600, never
copied off the machine that uses it). This module reads and writes them
without importing zmq; keys are 40-character Z85 text.
"""

from __future__ import annotations

import os
import re
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from actors.errors import KeyFileError

Z85_KEY_CHARS = 40  # a 32-byte Curve25519 key in Z85 text
_Z85 = re.compile(r"^[0-9a-zA-Z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
_KEY_LINE = re.compile(r'^\s*(public-key|secret-key)\s*=\s*"([^"]*)"\s*$', re.MULTILINE)
KEY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"

_BANNER = """#   ****  Generated on {when} by fedactors  ****
#   ZeroMQ CURVE {what} Certificate
#   {advice}

metadata
curve
"""
_PUBLIC_ADVICE = "Give this file to every node that must let this one in (its keys directory)."
_SECRET_ADVICE = "DO NOT give this file to anyone, nor change its permissions (0600)."


def is_z85_key(text: str) -> bool:
    """True when `text` is a 40-character Z85 key."""
    return bool(_Z85.match(text))


@dataclass(frozen=True, slots=True)
class CurveConfig:
    """A node's CURVE keys (see the module docstring).

    Attributes:
        public_key: this node's public key (Z85).
        secret_key: this node's secret key (Z85).
        allowed_clients: public keys of the peers allowed to connect to this node.
        server_keys: node id -> the public key that node serves with.
        default_server_key: the key of peers not in `server_keys` (None: `public_key`).
    """

    public_key: str
    secret_key: str
    allowed_clients: frozenset[str]
    server_keys: Mapping[str, str] = field(default_factory=dict)
    default_server_key: str | None = None

    def __post_init__(self) -> None:
        keys = {"public_key": self.public_key, "secret_key": self.secret_key}
        keys |= {f"allowed key {i}": k for i, k in enumerate(sorted(self.allowed_clients))}
        keys |= {f"server key of {n!r}": k for n, k in self.server_keys.items()}
        if self.default_server_key is not None:
            keys["default_server_key"] = self.default_server_key
        for what, key in keys.items():
            if not is_z85_key(key):
                raise ValueError(f"{what} must be a {Z85_KEY_CHARS}-character Z85 key, got {key!r}")

    def server_key(self, node_id: str) -> str:
        """The public key node `node_id` must prove when we connect to it."""
        return self.server_keys.get(node_id, self.default_server_key or self.public_key)

    def may_use(self, key: str, node_id: str) -> bool:
        """Whether a peer that proved public `key` may speak as node `node_id`.

        A node named in `server_keys` is bound to its key, and a key named
        there admits only the nodes it is named for: with a pair per node, a
        key admits one node. Nodes that share the default pair cannot be told
        apart by their key (see docs/security.md).
        """
        named = self.server_keys.get(node_id)
        if named is not None:
            return named == key
        return key not in self._named_keys

    @property
    def _named_keys(self) -> frozenset[str]:
        return frozenset(self.server_keys.values())


# -- key files -------------------------------------------------------------------


def key_paths(directory: Path, name: str) -> tuple[Path, Path]:
    """`(DIR/NAME.key, DIR/NAME.key_secret)`.

    Raises:
        ValueError: `name` is not a plain file name (letters, digits, `_`, `.`, `-`).
    """
    if not KEY_NAME.match(name):
        raise ValueError(f"key name must be letters, digits, '_', '.' or '-' (not first), got {name!r}")
    return directory / f"{name}{PUBLIC_SUFFIX}", directory / f"{name}{SECRET_SUFFIX}"


def write_key_pair(directory: Path, name: str, public_key: str, secret_key: str) -> tuple[Path, Path]:
    """Write `NAME.key` and `NAME.key_secret` (mode 0600) into `directory`.

    Raises:
        KeyFileError: either file exists already (keys are never overwritten).
        ValueError: a bad name or key.
    """
    public_path, secret_path = key_paths(directory, name)
    if not (is_z85_key(public_key) and is_z85_key(secret_key)):
        raise ValueError("keys must be 40-character Z85 text")
    for path in (public_path, secret_path):
        if path.exists():
            raise KeyFileError(str(path), "exists already; delete it or choose another name")
    directory.mkdir(parents=True, exist_ok=True)
    when = time.strftime("%Y-%m-%d %H:%M:%S")
    _write_new(
        secret_path,
        0o600,
        _BANNER.format(when=when, what="**Secret**", advice=_SECRET_ADVICE)
        + f'    public-key = "{public_key}"\n    secret-key = "{secret_key}"\n',
    )
    _write_new(
        public_path,
        0o644,
        _BANNER.format(when=when, what="Public", advice=_PUBLIC_ADVICE)
        + f'    public-key = "{public_key}"\n',
    )
    return public_path, secret_path


def _write_new(path: Path, mode: int, text: str) -> None:
    # O_EXCL with the final mode: the secret is never readable by others, not even for a moment.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def read_public_key(path: Path) -> str:
    """The public key in a `.key` (or `.key_secret`) file.

    Raises:
        KeyFileError: the file is missing, unreadable, or holds no valid public key.
    """
    return _read_keys(path)["public-key"]


def read_key_pair(path: Path) -> tuple[str, str]:
    """`(public, secret)` from a `.key_secret` file readable by its owner only.

    Raises:
        KeyFileError: the file is missing, unreadable, readable by others, or
            lacks a valid public or secret key.
    """
    keys = _read_keys(path)
    if "secret-key" not in keys:
        raise KeyFileError(str(path), f"has no secret-key line; the secret is in NAME{SECRET_SUFFIX}")
    check_private(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(str(path), f"is readable by others (mode {mode & 0o777:o}); run: chmod 600 {path}")
    return keys["public-key"], keys["secret-key"]


def read_allowed_keys(directory: Path) -> frozenset[str]:
    """Every public key in `DIRECTORY/*.key`: the peers allowed to connect.

    Raises:
        KeyFileError: the directory is missing, holds no `.key` file, or one is
            malformed; or the directory or a key file is not owned by this user or
            is writable by group or others (whoever can write there is admitted).
    """
    return frozenset(read_public_keys(directory).values())


def read_public_keys(directory: Path) -> dict[str, str]:
    """`NAME -> public key` of every `DIRECTORY/NAME.key` (checked as `read_allowed_keys` says).

    Raises:
        KeyFileError: as `read_allowed_keys`.
    """
    if not directory.is_dir():
        raise KeyFileError(str(directory), "no such directory (make a key in it: fedactors keys new NAME)")
    check_private(directory)
    paths = sorted(directory.glob(f"*{PUBLIC_SUFFIX}"))
    for path in paths:
        check_private(path)
    if not paths:
        raise KeyFileError(str(directory), f"holds no *{PUBLIC_SUFFIX} file: nobody could connect")
    return {path.name.removesuffix(PUBLIC_SUFFIX): read_public_key(path) for path in paths}


def check_private(path: Path) -> None:
    """Refuse a keys directory or key file that someone else could change.

    Raises:
        KeyFileError: `path` is not owned by this user, or is writable by group or others.
    """
    info = path.stat()
    if info.st_uid != os.getuid():
        raise KeyFileError(
            str(path),
            f"is owned by uid {info.st_uid}, not by you (uid {os.getuid()}); run: chown $USER {path}",
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise KeyFileError(
            str(path),
            f"is writable by group or others (mode {info.st_mode & 0o777:o}): whoever can write there "
            f"is admitted; run: chmod go-w {path}",
        )


def _read_keys(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(str(path), "does not exist (make one: fedactors keys new NAME)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(str(path), f"cannot be read ({exc})") from exc
    keys = {name: value for name, value in _KEY_LINE.findall(text)}
    if "public-key" not in keys:
        raise KeyFileError(str(path), 'has no line public-key = "<40 Z85 characters>"')
    for name, value in keys.items():
        if not is_z85_key(value):
            raise KeyFileError(str(path), f"its {name} is not 40 Z85 characters (got {len(value)})")
    return keys
