"""Events for the run's event log.

Actors call `self.metrics.record("update_applied", version=3, staleness=1)`.
Each record carries the wall time (`t`), the clock's time (`vt`, virtual in a
simulation), the node and the actor; the node's `EventSink` decides where it
goes (a file, a list in a test, or the launcher's recorder over the wire).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from actors.clock import Clock

Record = dict[str, Any]


class EventSink(Protocol):
    """Where records go. `emit` must not block: sinks buffer if they need to."""

    def emit(self, record: Record) -> None: ...


class NullSink:
    """Drops every record."""

    def emit(self, record: Record) -> None:
        pass


class ListSink:
    """Keeps records in a list (for tests and in-process runs)."""

    def __init__(self) -> None:
        self.records: list[Record] = []

    def emit(self, record: Record) -> None:
        self.records.append(record)

    def of(self, event: str) -> list[Record]:
        """The records of one event kind, in order."""
        return [r for r in self.records if r["event"] == event]


class Metrics:
    """An actor's handle on the sink, bound to its name and its node's clock."""

    def __init__(self, sink: EventSink, clock: Clock, node: str, actor: str) -> None:
        self._sink = sink
        self._clock = clock
        self._node = node
        self._actor = actor

    def record(self, event: str, **fields: Any) -> None:
        """Emit one event with the times and the actor's identity."""
        record: Record = {
            "t": self._clock.wall(),
            "vt": self._clock.now(),
            "node": self._node,
            "actor": self._actor,
            "event": event,
        }
        record.update(fields)
        self._sink.emit(record)

    async def settle(self) -> bool:
        """Wait until every record emitted so far is in the run's event log.

        A sink that ships records elsewhere (the node's `Reporter`) has a
        `settle` coroutine; one that keeps them at once has nothing to wait for.

        Returns:
            Whether they are (False: the sink could not confirm it).
        """
        settle = getattr(self._sink, "settle", None)
        return True if settle is None else bool(await settle())
