"""The idle clients of a server, in sorted order, kept up to date as clients and tasks come and go.

Under a concurrency limit an asynchronous server hands the next task to a
seeded random idle client: `rng.choice(sorted(idle))`. Sorting every client on
each update made that O(n log n) per update (55% of a no-op FedAsync run at
10,000 clients). Here the idle clients are kept in a `SortedNames`, an
order-statistic set that `random.Random.choice` indexes directly, so the choice
is the same (the same draw from the generator, the same k-th name) for
O(log n) per change and per choice.

`Roster` holds the server's `clients` (name -> samples) and `in_flight`
(name -> task id) as dicts that tell it when a key appears or disappears;
idle = joined and without a task in flight.
"""

from __future__ import annotations

import itertools
import random
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

V = TypeVar("V")

LOAD = 256  # names per block: a block is split past 2 * LOAD


class SortedNames:
    """A sorted set of strings with `add`, `discard`, `in` and `names[k]` in O(log n).

    The names are kept in sorted blocks of at most 2 * `load` (a list insert
    within a block is a memmove of at most that many pointers), with a
    Fenwick tree over the blocks' sizes to find the k-th name. A block that
    grows past 2 * `load` is split in two, one that empties is removed; either
    rebuilds the tree (linear in the number of blocks, once per `load` changes
    or more).
    """

    def __init__(self, names: Iterable[str] = (), load: int = LOAD) -> None:
        if load < 1:
            raise ValueError(f"load must be >= 1, got {load}")
        self._load = load
        ordered = sorted(set(names))
        self._blocks = [ordered[i : i + load] for i in range(0, len(ordered), load)]
        self._maxes = [block[-1] for block in self._blocks]
        self._len = len(ordered)
        self._tree: list[int] = []
        self._rebuild()

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._blocks)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        i = bisect_left(self._maxes, name)
        if i == len(self._maxes):
            return False
        block = self._blocks[i]
        return block[bisect_left(block, name)] == name

    def __getitem__(self, k: int) -> str:
        """The k-th smallest name (0-based; negative counts from the end)."""
        if k < 0:
            k += self._len
        if not 0 <= k < self._len:
            raise IndexError(f"index {k} out of range for {self._len} names")
        block, offset = self._find(k)
        return self._blocks[block][offset]

    def __repr__(self) -> str:
        return f"SortedNames({list(self)!r})"

    def add(self, name: str) -> bool:
        """Add `name`; False if it was there already."""
        if not self._blocks:
            self._blocks, self._maxes, self._len = [[name]], [name], 1
            self._rebuild()
            return True
        i = min(bisect_left(self._maxes, name), len(self._maxes) - 1)  # past every block: the last
        block = self._blocks[i]
        j = bisect_left(block, name)
        if j < len(block) and block[j] == name:
            return False
        block.insert(j, name)
        self._maxes[i] = block[-1]
        self._len += 1
        if len(block) > 2 * self._load:
            self._blocks[i : i + 1] = [block[: self._load], block[self._load :]]
            self._maxes[i : i + 1] = [self._blocks[i][-1], self._blocks[i + 1][-1]]
            self._rebuild()
        else:
            self._change(i, 1)
        return True

    def discard(self, name: str) -> bool:
        """Remove `name`; False if it was not there."""
        i = bisect_left(self._maxes, name)
        if i == len(self._maxes):
            return False
        block = self._blocks[i]
        j = bisect_left(block, name)
        if block[j] != name:
            return False
        del block[j]
        self._len -= 1
        if block:
            self._maxes[i] = block[-1]
            self._change(i, -1)
        else:
            del self._blocks[i], self._maxes[i]
            self._rebuild()
        return True

    def _rebuild(self) -> None:
        """The Fenwick tree of the blocks' sizes (1-based), in linear time."""
        tree = [0] + [len(block) for block in self._blocks]
        for i in range(1, len(tree)):
            parent = i + (i & -i)
            if parent < len(tree):
                tree[parent] += tree[i]
        self._tree = tree

    def _change(self, block: int, by: int) -> None:
        i = block + 1
        while i < len(self._tree):
            self._tree[i] += by
            i += i & -i

    def _find(self, k: int) -> tuple[int, int]:
        """The block holding the k-th name (0-based) and the name's place in it."""
        tree = self._tree
        position, step = 0, 1 << max(0, (len(tree) - 1).bit_length() - 1)
        while step:
            ahead = position + step
            if ahead < len(tree) and tree[ahead] <= k:
                position, k = ahead, k - tree[ahead]
            step >>= 1
        return position, k


class WatchedDict(dict[str, V]):
    """A dict that calls `added(key)` when a key appears and `removed(key)` when one goes.

    Every mutating method goes through `__setitem__` or `_gone`, so no change is missed.
    """

    def __init__(self, added: Callable[[str], object], removed: Callable[[str], object]) -> None:
        super().__init__()
        self._added = added
        self._removed = removed

    def __setitem__(self, key: str, value: V) -> None:
        new = key not in self
        super().__setitem__(key, value)
        if new:
            self._added(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._removed(key)

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            return super().pop(key, *default)  # the default, or KeyError
        value = super().pop(key)
        self._removed(key)
        return value

    def popitem(self) -> tuple[str, V]:
        key, value = super().popitem()
        self._removed(key)
        return key, value

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __ior__(self, other: Any) -> WatchedDict[V]:  # type: ignore[override,misc]
        self.update(other)
        return self


class Roster:
    """A server's `clients` and `in_flight`, and the idle clients (joined, no task) kept from them."""

    def __init__(
        self, clients: Mapping[str, int] | None = None, in_flight: Mapping[str, int] | None = None
    ) -> None:
        self.idle = SortedNames()
        self.clients: WatchedDict[int] = WatchedDict(self._joined, self.idle.discard)
        self.in_flight: WatchedDict[int] = WatchedDict(self.idle.discard, self._task_ended)
        self.in_flight.update(in_flight or {})
        self.clients.update(clients or {})

    def _joined(self, client: str) -> None:
        if client not in self.in_flight:
            self.idle.add(client)

    def _task_ended(self, client: str) -> None:
        if client in self.clients:
            self.idle.add(client)

    def next_client(self, client: str, concurrency: int | None, rng: random.Random) -> str | None:
        """See `ServerActor.next_client`: `client` again, or a seeded choice among the idle."""
        idle, alive = self.idle, client in self.clients
        if concurrency is None:
            return client if alive else (idle[0] if idle else None)
        if idle:
            return rng.choice(idle)
        return client if alive else None
