"""A scheduler and the server of its group: what each of the two sees of the other.

A scheduler (`actors.scheduler`) is a parent to its group and a client to its
own parent. It *has* a server for its group (from `actors.server`: synchronous
rounds for HierFAVG, FedAsync or FedBuff at an asynchronous edge), which the
node's builder makes (`actors.server.groups`, called by `sims.build`) and
hands to it. The scheduler becomes that server's `owner`: the server hands it
the events where a scheduler differs from a server at the top (a child
joined, an update arrived, a peer fell silent, a new version was made), and
the owner decides what to do, calling the server's own hook (`client_joined`,
`update_arrived`, `peer_lost`) where it wants the server's behaviour. Without
an owner a server does what its hooks say and, at each new version, evaluates
and applies the stopping rule.

Each side sees the other only through the Protocols here, in the core, so
neither role package imports the other:

    GroupServer   what a scheduler uses of its group's server (every group)
    RoundsGroup   and of one that runs synchronous rounds (HierFAVG's)
    GroupOwner    what the server sees of the scheduler that has it
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from structlog.typing import FilteringBoundLogger

    from actors.liveness import Liveness
    from actors.messages import Message
    from actors.metrics import Metrics
    from actors.protocol import Join, Leave, Relayed, Update
    from actors.statedict import StateDict


class GroupOwner(Protocol):
    """A scheduler that has this server for its group (see the module docstring)."""

    async def child_joined(self, client: str) -> None:
        """`client` joined the group (the server's `client_joined` hands it work)."""
        ...

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None:
        """A valid update for the client's task (the server's `update_arrived` uses it)."""
        ...

    async def peer_lost(self, peer: str) -> None:
        """Heartbeats: `peer` fell silent: the parent, or a child (the server's `peer_lost`)."""
        ...

    async def version_made(self, contributors: int) -> None:
        """The group's model has a new version (installed already): report, checkpoint."""
        ...

    def owner_state(self) -> dict[str, Any]:
        """What the owner adds to the group server's checkpoint."""
        ...

    def load_owner_state(self, state: Mapping[str, Any]) -> None:
        """Restore what `owner_state()` added (after the server restored its own)."""
        ...


class GroupServer(Protocol):
    """The server of a scheduler's group, as the scheduler uses it (`actors.server.ServerActor`).

    The node's name, context, clock, logger and metrics, set on the scheduler at
    `spawn`, are set on its group server as well, so both act as one actor.

    Attributes:
        owner: the scheduler that has it (set by the scheduler).
        params: the group's model.
        clients: the group's children that joined, with their sample counts.
        liveness: the heartbeats of its links, the parent's too (None: none).
    """

    owner: GroupOwner | None
    params: StateDict
    clients: dict[str, int]
    liveness: Liveness | None
    log: FilteringBoundLogger
    metrics: Metrics

    @property
    def version(self) -> int:
        """The group model's version (edge versions)."""
        ...

    @property
    def done(self) -> bool:
        """Whether the run is over for the group."""
        ...

    async def send(self, to: str, msg: Message) -> None: ...

    async def on_start(self) -> None: ...

    async def on_join(self, msg: Join, sender: str) -> None: ...

    async def on_update(self, msg: Update, sender: str) -> None: ...

    async def on_relayed(self, msg: Relayed, sender: str) -> None: ...

    async def on_leave(self, msg: Leave, sender: str) -> None: ...

    async def client_joined(self, client: str) -> None: ...

    async def update_arrived(self, client: str, update: Update, weights: StateDict) -> None: ...

    async def peer_lost(self, peer: str) -> None: ...

    async def checkpoint_when_due(self) -> None: ...

    async def finish(self, reason: str) -> None:
        """End the run for the group: every child is told to leave."""
        ...

    def resume(self) -> bool:
        """Restore from the checkpoint when the run resumes (False: nothing to restore)."""
        ...


class RoundsGroup(GroupServer, Protocol):
    """A group server that runs synchronous rounds (`actors.server.rounds.SyncRoundsServer`).

    Attributes:
        local_rounds: local rounds each task asks of a client.
    """

    local_rounds: int

    async def run_round(self) -> dict[str, Update] | None:
        """One round; its updates by client, or None when too few came."""
        ...

    def mean_delta(self, updates: dict[str, Update]) -> StateDict | None:
        """The round's aggregated delta (None: the aggregator refused the round)."""
        ...

    async def new_version(self, params: StateDict, contributors: int) -> None:
        """Install `params` as the group's next version (the owner's `version_made`)."""
        ...
