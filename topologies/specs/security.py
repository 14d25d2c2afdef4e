"""Declarations of the `[security]` table of a topology file.

    [security]
    curve = "auto"          # true | false | "auto": on when any node runs on another host
    keys_dir = "keys"       # every *.key in it may connect; NAME.key_secret are the pairs
    key = "run"             # the key pair every node uses ...
    node_keys = { launcher = "lab", "node-2" = "gpu-box" }   # ... unless named here

Make key pairs with `fedactors keys new NAME --dir keys`. Node ids are the
launcher's (`launcher`, `node-0`, `node-1`, ...). See `docs/security.md`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: A key pair's name: the stem of keys_dir/NAME.key and keys_dir/NAME.key_secret.
KeyName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")]


class SecuritySpec(BaseModel):
    """CURVE encryption and authentication between a run's nodes.

    Attributes:
        curve: `true` encrypts every connection and admits only nodes whose
            public key is in `keys_dir`; `false` sends plaintext; `"auto"` is
            on exactly when the launcher places a node on another host.
        keys_dir: the directory of keys, relative to where `fedactors` runs
            (as data paths are).
        key: name of the key pair every node uses unless `node_keys` names another.
        node_keys: node id -> key pair name, for nodes with a key of their own.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    curve: Literal["auto"] | bool = "auto"
    keys_dir: Path = Path("keys")
    key: KeyName = "run"
    node_keys: dict[str, KeyName] = Field(default_factory=dict)

    def key_of(self, node_id: str) -> KeyName:
        """The key pair name node `node_id` uses."""
        return self.node_keys.get(node_id, self.key)


def curve_enabled(curve: Literal["auto"] | bool, all_hosts_local: bool) -> bool:
    """Whether CURVE is on: `auto` means on as soon as one node runs on another host.

    A node process that cannot see the placement passes `all_hosts_local=False`,
    so an unresolved `auto` fails closed (encrypted) rather than open.
    """
    if curve == "auto":
        return not all_hosts_local
    return bool(curve)


def resolve_security(security: SecuritySpec, all_hosts_local: bool) -> SecuritySpec:
    """`security` with `auto` replaced by what it means for this placement."""
    return security.model_copy(update={"curve": curve_enabled(security.curve, all_hosts_local)})
