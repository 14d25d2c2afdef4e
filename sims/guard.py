"""`RunGuard`: the bounds a simulation keeps whatever its actors do.

The stopping rule lives in the server (or the gossip monitor) and is checked
at each new model version, so a run that stops making versions (work lost
where no timeout re-issues it, a task that expires and is re-issued forever)
never reaches it. The guard watches the event log from outside the actors:

    max_time_s    a timer on the clock ends the run at that simulated time
    max_versions  a version past the limit ends it (the server stops at the limit)
    stalled       `stall_events` events in a row with no new model version end it,
                  naming the actor that recorded most of them and its commonest event

Each end is recorded as `run_finished` by actor `guard`, as the server would.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable

from actors.metrics import EventSink, Record
from actors.server.stop import StopConfig

GUARD = "guard"  # the actor name of the guard's own records
# A stall is this many events per actor with no new version (at least
# MIN_STALL_EVENTS): a FedAvg round of n clients records about 4 events per
# client, so even the largest round stays far below it.
STALL_EVENTS_PER_ACTOR = 100
MIN_STALL_EVENTS = 10_000

Ender = Callable[[str], None]


def stall_events(actors: int) -> int:
    """Events with no new version after which a run of `actors` actors has stalled."""
    return max(MIN_STALL_EVENTS, STALL_EVENTS_PER_ACTOR * actors)


class RunGuard:
    """Ends a simulation at its bounds (see the module docstring).

    Args:
        stop: the run's stopping rule.
        sink: where the guard's `run_finished` goes (the recorder).
        end: called once with the reason when the guard ends the run.
        actors: how many actors the run has (scales the stall bound).
        echo: prints the stall's explanation (None: nowhere).
    """

    def __init__(
        self,
        stop: StopConfig,
        sink: EventSink,
        end: Ender,
        actors: int,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.stop = stop
        self.sink = sink
        self.end = end
        self.stall_events = stall_events(actors)
        self.echo = echo
        self.ended = False
        self.version = 0
        self._since_version: Counter[tuple[str, str]] = Counter()
        self._count = 0

    def on_record(self, record: Record) -> None:
        """Watch one record of the event log (the recorder's hook)."""
        if self.ended:
            return
        if record["event"] == "model_updated" and record["version"] > self.version:
            self.version = record["version"]
            self._since_version.clear()
            self._count = 0
            limit = self.stop.max_versions or self.stop.max_rounds
            if limit is not None and self.version > limit:
                self.finish("max_versions" if self.stop.max_versions else "max_rounds")
            return
        if record["event"] == "run_finished":
            self.ended = True  # the actors ended it themselves
            return
        self._since_version[(record["actor"], record["event"])] += 1
        self._count += 1
        if self._count >= self.stall_events:
            self._stalled()

    async def watch_clock(self) -> None:
        """End the run when the clock reaches `max_time_s` (never, without one)."""
        if self.stop.max_time_s is None:
            return
        await asyncio.sleep(self.stop.max_time_s)
        self.finish("max_time_s")

    def finish(self, reason: str, **fields: object) -> None:
        """Record `run_finished` for `reason` and end the run (once)."""
        if self.ended:
            return
        self.ended = True
        if "message" in fields and self.echo is not None:
            self.echo(str(fields["message"]))
        loop = asyncio.get_running_loop()
        self.sink.emit(
            {
                "t": time.time(),
                "vt": loop.time(),
                "node": "sim",
                "actor": GUARD,
                "event": "run_finished",
                "version": self.version,
                "reason": reason,
                **fields,
            }
        )
        self.end(reason)

    def _stalled(self) -> None:
        by_actor: Counter[str] = Counter()
        for (actor, _), count in self._since_version.items():
            by_actor[actor] += count
        actor, count = by_actor.most_common(1)[0]
        event = max(
            (e for a, e in self._since_version if a == actor), key=lambda e: self._since_version[actor, e]
        )
        message = (
            f"stalled: {self._count} events since version {self.version} and no new version; "
            f"{actor!r} loops ({count} of them, mostly {event} ×{self._since_version[actor, event]})"
        )
        self.finish("stalled", looping_actor=actor, looping_event=event, events=self._count, message=message)
