"""No import circles among the project's modules; roles import the core, not each other."""

from __future__ import annotations

from tests.architecture.imports import circles, import_graph

ROLES = ("actors.server", "actors.client", "actors.scheduler", "actors.peer")

# Every circle is gone ([9 house]); nothing may join this list.
KNOWN_CIRCLES: list[list[str]] = []


def role_of(module: str) -> str | None:
    return next((r for r in ROLES if module == r or module.startswith(r + ".")), None)


def test_the_circles_small_examples_find_are_the_hand_drawn_ones() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e2"}, "e2": set()}

    assert circles(graph) == [["a", "b", "c"]]


def test_no_import_circle_among_project_modules_beyond_the_known_ones() -> None:
    assert circles(import_graph()) == KNOWN_CIRCLES


def test_the_actor_core_imports_no_node_and_no_role() -> None:
    graph = import_graph()

    assert not {m for m in graph["actors.actor"] if m == "actors.node" or role_of(m)}
    assert "actors.node" not in graph["actors.liveness"]


def test_which_role_imports_which_other_role() -> None:
    graph = import_graph()
    crossings = sorted(
        {
            (role_of(m), role_of(i))
            for m, imported in graph.items()
            for i in imported
            if role_of(m) and role_of(i) and role_of(m) != role_of(i)
        }
    )

    # The shared training types live in the core (actors/training.py); a new crossing fails this test.
    assert crossings == KNOWN_ROLE_CROSSINGS


KNOWN_ROLE_CROSSINGS: list[tuple[str | None, str | None]] = []  # none: a scheduler is handed its
# group server by the node's builder (`actors.server.groups`, `sims.build`) and sees it through
# `actors.group`; relays and refusals are in the core (`actors.relays`)
