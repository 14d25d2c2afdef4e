"""What a node remembers about the actors it hears from, with a hard bound.

A node learns two things from received messages: where to answer a sender it
has no route for (a learned route), and when it last heard from each actor (for
`actors.liveness`). A peer picks the sender names, so both are kept in an
`IdentityTable`: the actors the node knows (its directory: the placement) are
kept for good, every other name goes into a table of at most `cap` entries
where a new name pushes out the one heard from longest ago. Evictions are
counted and logged (sampled): a storm of 150,000 invented names costs a full
table and a few log lines, never the node's memory (see docs/reliability.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar, overload

from structlog.typing import FilteringBoundLogger

from actors.logs import sampled

V = TypeVar("V")

MAX_STRANGERS = 10_000  # names outside the directory remembered per table (~3 MB with 256-char names)


class IdentityTable(Generic[V]):
    """Name -> value, bounded for names the node does not know.

    Args:
        name: what the table holds, for the eviction log (`routes`, `heard`).
        known: whether a name is one the node knows (never evicted).
        log: where evictions are logged.
        cap: entries kept for the other names; the stalest goes first.
    """

    def __init__(
        self, name: str, known: Callable[[str], bool], log: FilteringBoundLogger, cap: int = MAX_STRANGERS
    ) -> None:
        self.name = name
        self.cap = cap
        self.evicted = 0
        self._known = known
        self._log = log
        self._pinned: dict[str, V] = {}
        self._strangers: OrderedDict[str, V] = OrderedDict()

    def __setitem__(self, key: str, value: V) -> None:
        if self._known(key):
            self._strangers.pop(key, None)
            self._pinned[key] = value
            return
        self._strangers[key] = value
        self._strangers.move_to_end(key)
        if len(self._strangers) > self.cap:
            self._strangers.popitem(last=False)
            self.evicted += 1
            if sampled(self.evicted):
                self._log.warning("identity_evicted", table=self.name, cap=self.cap, count=self.evicted)

    @overload
    def get(self, key: str) -> V | None: ...
    @overload
    def get(self, key: str, default: V) -> V: ...
    def get(self, key: str, default: V | None = None) -> V | None:
        value = self._pinned.get(key)
        return value if value is not None else self._strangers.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._pinned or key in self._strangers

    def __len__(self) -> int:
        return len(self._pinned) + len(self._strangers)

    @property
    def strangers(self) -> int:
        """Entries held for names the node does not know (at most `cap`)."""
        return len(self._strangers)
