"""The idle-client set: hand-worked add / discard / k-th, and the same seeded choice as `sorted`."""

from __future__ import annotations

import random

import pytest

from actors.server.base import ServerActor, ServerDeps
from actors.server.idle import Roster, SortedNames, WatchedDict


def test_add_discard_and_kth_by_hand() -> None:
    names = SortedNames(load=2)  # blocks split past 4 names: every path is taken below
    for name in ["c", "a", "e", "b", "d", "f"]:
        assert names.add(name)
    assert not names.add("c")  # already there
    assert list(names) == ["a", "b", "c", "d", "e", "f"]
    assert len(names) == 6
    assert [names[k] for k in range(6)] == ["a", "b", "c", "d", "e", "f"]
    assert names[-1] == "f"
    assert names.discard("c")
    assert not names.discard("c")
    assert not names.discard("zz")  # past every name
    assert [names[k] for k in range(5)] == ["a", "b", "d", "e", "f"]
    for name in ["a", "b"]:  # empties a block
        names.discard(name)
    assert list(names) == ["d", "e", "f"]
    assert names[0] == "d"
    assert "e" in names
    assert "c" not in names
    assert 3 not in names
    with pytest.raises(IndexError):
        names[3]
    with pytest.raises(IndexError):
        names[-4]


def test_names_sort_as_strings_and_start_from_an_iterable() -> None:
    names = SortedNames(["client-10", "client-9", "client-100", "client-9"], load=1)
    assert list(names) == ["client-10", "client-100", "client-9"]
    assert names[1] == "client-100"
    for name in list(names):
        names.discard(name)
    assert len(names) == 0
    assert list(names) == []
    with pytest.raises(IndexError):
        names[0]
    assert names.add("x")
    assert names[0] == "x"


def test_bad_load_is_refused() -> None:
    with pytest.raises(ValueError, match="load must be >= 1"):
        SortedNames(load=0)


@pytest.mark.parametrize("load", [1, 3, 256])
def test_choice_matches_sorting_under_the_same_seed(load: int) -> None:
    """Random adds and removes: the k-th name and `rng.choice` equal those of a sorted list."""
    ops = random.Random(7)
    names = SortedNames(load=load)
    reference: set[str] = set()
    mine, theirs = random.Random(3), random.Random(3)
    for _ in range(3000):
        name = f"client-{ops.randrange(200)}"
        if ops.random() < 0.55:
            assert names.add(name) == (name not in reference)
            reference.add(name)
        else:
            assert names.discard(name) == (name in reference)
            reference.discard(name)
        ordered = sorted(reference)
        assert len(names) == len(ordered)
        if ordered:
            assert mine.choice(names) == theirs.choice(ordered)
    assert list(names) == sorted(reference)


def test_roster_keeps_idle_as_clients_and_tasks_change() -> None:
    roster = Roster({"b": 1, "a": 2, "c": 3}, {"b": 7})
    assert list(roster.idle) == ["a", "c"]
    roster.in_flight["a"] = 8  # a task handed out
    assert list(roster.idle) == ["c"]
    del roster.in_flight["b"]  # its update came
    assert list(roster.idle) == ["b", "c"]
    roster.clients["d"] = 4  # joined
    roster.clients["d"] = 5  # joined again: still one name
    assert list(roster.idle) == ["b", "c", "d"]
    assert roster.clients.pop("c") == 3  # lost
    assert roster.clients.pop("c", None) is None
    assert roster.in_flight.pop("a") == 8  # expired, and still a client
    assert list(roster.idle) == ["a", "b", "d"]
    roster.in_flight["x"] = 9  # a task of a client that is gone since
    del roster.in_flight["x"]
    assert list(roster.idle) == ["a", "b", "d"]
    roster.clients.update({"e": 1}, f=2)
    roster.clients |= {"g": 3}
    assert roster.clients.setdefault("h", 4) == 4
    assert list(roster.idle) == ["a", "b", "d", "e", "f", "g", "h"]
    roster.clients.popitem()  # the last inserted: "h"
    roster.in_flight.setdefault("a", 10)
    assert list(roster.idle) == ["b", "d", "e", "f", "g"]
    roster.clients.clear()
    assert list(roster.idle) == []
    assert roster.clients == {}


def test_watched_dict_reports_each_key_once() -> None:
    seen: list[str] = []
    watched: WatchedDict[int] = WatchedDict(lambda k: seen.append(f"+{k}"), lambda k: seen.append(f"-{k}"))
    watched["a"] = 1
    watched["a"] = 2
    watched.pop("b", None)
    with pytest.raises(KeyError):
        watched.pop("b")
    del watched["a"]
    assert seen == ["+a", "-a"]


def _old_next_client(
    server: ServerActor, rng: random.Random, client: str, concurrency: int | None
) -> str | None:
    """`ServerActor.next_client` as it was, sorting on each call: the reference."""
    idle = sorted(c for c in server.clients if c not in server.in_flight)
    alive = client in server.clients
    if concurrency is None:
        return client if alive else next(iter(idle), None)
    if idle:
        return rng.choice(idle)
    return client if alive else None


@pytest.mark.parametrize("concurrency", [None, 3])
def test_next_client_chooses_as_sorting_did(concurrency: int | None) -> None:
    server = ServerActor({}, ServerDeps(evaluator=None, stop=None, seed=5))
    reference = random.Random(5)
    ops = random.Random(11)
    for step in range(2000):
        name = f"client-{ops.randrange(40)}"
        action = ops.randrange(4)
        if action == 0:
            server.clients[name] = 1
        elif action == 1:
            server.clients.pop(name, None)
        elif action == 2 and name in server.clients:
            server.in_flight[name] = step
        else:
            server.in_flight.pop(name, None)
        if step == 1000:  # a restore replaces both dicts: the idle set is rebuilt from them
            server.clients = dict(server.clients)
            server.in_flight = dict(server.in_flight)
        expected = _old_next_client(server, reference, name, concurrency)
        assert server.next_client(name, concurrency) == expected
