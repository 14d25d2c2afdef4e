"""Declarations of the `[security]` table of a topology file.

    [security]
    curve = "auto"          # true | false | "auto": on when any node runs on another host
    keys_dir = "keys"       # every *.key in it may connect; NAME.key_secret are the pairs
    # key = "run"           # one pair shared by every node; unset (the default): a pair per node
    node_keys = { launcher = "lab", "node-2" = "gpu-box" }   # a node's pair, if not its id's

By default node `n` uses the pair `keys_dir/n.key_secret`: `fedactors run` and
`fedactors launch` make the missing ones before any process starts, and a
host gets only its own node's secret (`launcher.keys`). Make pairs by hand
with `fedactors keys new NAME --dir keys`. Node ids are the launcher's
(`launcher`, `node-0`, `node-1`, ...). See `docs/security.md`.
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
        key: name of one key pair every node shares (unless `node_keys` names
            another); None (the default): each node `n` has its own pair, named `n`,
            and proves it, so a key speaks for its node only.
        node_keys: node id -> key pair name, for nodes whose pair is not the default.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    curve: Literal["auto"] | bool = "auto"
    keys_dir: Path = Path("keys")
    key: KeyName | None = None
    node_keys: dict[str, KeyName] = Field(default_factory=dict)

    def key_of(self, node_id: str) -> KeyName:
        """The key pair name node `node_id` uses: `node_keys`, else `key`, else its own id."""
        return self.node_keys.get(node_id, self.key or node_id)

    @property
    def per_node(self) -> bool:
        """Whether every node not in `node_keys` has a pair of its own (no shared `key`)."""
        return self.key is None


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
