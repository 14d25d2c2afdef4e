"""Liveness: heartbeats between every parent and child, after the ZeroMQ Guide's Paranoid Pirate.

Each side of a parent–child link tells the other `Heartbeat` every
`interval`, and any message counts as one: the receiving node notes the time
it last heard from each actor (`Node.heard`). A peer silent for `liveness`
intervals is lost:

    parent loses a child    the child is forgotten; its task is lost (an
                            asynchronous server hands the work to another
                            client, a synchronous round stops waiting for it)
    child loses its parent  it joins its next fallback (a scheduler's clients
                            go to the scheduler's parent), or joins the same
                            parent again if it has none left

A child that was wrongly taken for lost (a long pause) learns it the same
way, since its parent stops beating, and simply joins again.

The times are wall seconds for the user (`LivenessConfig`); `Heartbeats` is the
same in the clock's seconds, which a time scale stretches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from actors.errors import FedActorsError
from actors.messages import Heartbeat

if TYPE_CHECKING:
    from actors.actor import Actor

HEARTBEAT_INTERVAL_S = 1.0  # wall seconds between two heartbeats on a link
HEARTBEAT_LIVENESS = 5  # heartbeats missed in a row before the peer is lost (3 starved busy 2-core runs)


class LivenessConfig(BaseModel):
    """The `[liveness]` table: heartbeats in real runs (a simulation has none:
    its clients fail by the behaviour models, not by dying).

    Attributes:
        enabled: heartbeat at all (off: a dead client's work waits for
            `task_timeout_s`, and a run with schedulers ends when one dies).
        interval_s: wall seconds between heartbeats.
        liveness: missed heartbeats before a peer counts as lost; a lost
            peer is noticed within `liveness × interval_s`.
        fallback: scheduler -> where its children go when it is lost
            (default: the scheduler's own parent).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    interval_s: float = Field(default=HEARTBEAT_INTERVAL_S, gt=0)
    liveness: int = Field(default=HEARTBEAT_LIVENESS, ge=3)
    fallback: dict[str, str] = Field(default_factory=dict)

    def on_clock(self, time_scale: float) -> Heartbeats | None:
        """The settings in clock seconds under `time_scale` (None when disabled)."""
        if not self.enabled:
            return None
        return Heartbeats(self.interval_s / time_scale, self.liveness)


@dataclass(frozen=True, slots=True)
class Heartbeats:
    """Heartbeat settings in the actor clock's seconds.

    Attributes:
        interval: clock seconds between heartbeats.
        liveness: intervals of silence after which a peer is lost.
    """

    interval: float
    liveness: int

    @property
    def lost_after(self) -> float:
        """Silence after which a peer is lost, at the next beat: `liveness - 1` intervals,
        so a dead peer goes unnoticed for at most `liveness` intervals."""
        return self.interval * (self.liveness - 1)


LostHook = Callable[[str], Coroutine[Any, Any, None]]


class Liveness:
    """Heartbeats one actor's links, and reports the peers that fell silent.

    Args:
        actor: whose links (it sends the heartbeats; the loop is its task).
        settings: interval and liveness in clock seconds.
        on_lost: run (as a task of the actor) with a peer's name once it is
            lost; the peer is no longer watched by then (`watch` it again to resume).
    """

    def __init__(self, actor: Actor, settings: Heartbeats, on_lost: LostHook) -> None:
        self.actor = actor
        self.settings = settings
        self.on_lost = on_lost
        self._since: dict[str, float] = {}  # peer -> when watching (re)started
        self._sending: set[str] = set()
        self._running = False

    def __contains__(self, peer: str) -> bool:
        return peer in self._since

    def watch(self, peer: str) -> None:
        """Heartbeat `peer` and expect its own (again, from now)."""
        self._since[peer] = self.actor.clock.now()
        if not self._running:
            self._running = True
            self.actor.start_task(self._beat(), "heartbeat")

    def unwatch(self, peer: str) -> None:
        self._since.pop(peer, None)

    def last_heard(self, peer: str) -> float:
        """When `peer` last showed life: its last message, or when watching started."""
        since = self._since.get(peer, -math.inf)
        return max(since, self.actor.context.last_heard(peer))

    async def _beat(self) -> None:
        while True:
            await self.actor.clock.sleep(self.settings.interval)
            now = self.actor.clock.now()
            for peer in sorted(self._since):
                if peer not in self._since:
                    continue  # unwatched by an earlier loss's handling
                if now - self.last_heard(peer) > self.settings.lost_after:
                    del self._since[peer]
                    # its own task too: handling a loss may send to (and wait on) others
                    self.actor.start_task(self.on_lost(peer), f"lost-{peer}")
                elif peer not in self._sending:
                    self._sending.add(peer)
                    self.actor.start_task(self._send(peer), f"heartbeat-{peer}")

    async def _send(self, peer: str) -> None:
        # Its own task: a send to a dead node waits for the transport's timeout,
        # and must hold up neither the actor nor the beats to the other peers.
        try:
            await self.actor.send(peer, Heartbeat())
        except FedActorsError as exc:
            self.actor.log.debug("heartbeat_not_sent", peer=peer, reason=str(exc))
        finally:
            self._sending.discard(peer)


class ParentLink:
    """A child's parent, and the fallbacks it joins in turn when that parent is lost.

    Args:
        parent: the parent the topology gives it.
        fallbacks: where to go next, in order (a scheduler's children: the
            scheduler's parent, then its parent, ...).
    """

    def __init__(self, parent: str, fallbacks: Sequence[str] = ()) -> None:
        self.parent = parent
        self._fallbacks = list(fallbacks)

    def lost(self, parent: str) -> str:
        """`parent` was lost: the parent to join now (the same one when no fallback is left)."""
        if parent == self.parent and self._fallbacks:
            self.parent = self._fallbacks.pop(0)
        return self.parent
