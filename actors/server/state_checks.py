"""Checks on the fields of a checkpointed server state: a resumed state is checked like an update.

A checkpoint with a valid CRC can still hold nonsense (a version of -5, a next
task id of -100): restored as it is, every honest update is then refused and
the run hangs. Each check raises `ValueError` naming the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def counter(state: Mapping[str, Any], name: str, least: int) -> int:
    """`state[name]`, an int of at least `least` (a version, a task id, a count).

    Raises:
        ValueError: it is not an int, or below `least`; the message names the field.
    """
    value = state[name]
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ValueError(f"field {name!r} must be an integer >= {least}, got {value!r:.60}")
    return value


def rng_state(value: Any) -> tuple[Any, ...]:
    """A `random.Random` state (version 3, 625 words, gauss) from its checkpointed form.

    Raises:
        ValueError: it is not one; the message names the field.
    """
    ok = isinstance(value, list | tuple) and len(value) == 3 and value[0] == 3
    words: Any = value[1] if ok else None
    ok = ok and isinstance(words, list | tuple) and len(words) == 625
    ok = ok and all(isinstance(w, int) and 0 <= w < 2**32 for w in words[:-1]) and 0 <= words[-1] <= 624
    if not ok or not (value[2] is None or isinstance(value[2], float)):
        raise ValueError("field 'rng' is not a random.Random state (version 3, 625 words, gauss)")
    return (3, tuple(words), value[2])


def client_samples(value: Any) -> dict[str, int]:
    """The clients and their sample counts (names non-empty, counts >= 1).

    Raises:
        ValueError: naming the field.
    """
    if not isinstance(value, dict):
        raise ValueError(f"field 'clients' must be a table of name -> samples, got {type(value).__name__}")
    for client, count in value.items():
        if not isinstance(client, str) or not client:
            raise ValueError(f"field 'clients' holds a name that is not a string: {client!r:.60}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError(f"field 'clients' gives {client!r:.60} {count!r:.60} samples (must be >= 1)")
    return dict(value)


def accuracy(value: Any) -> float | None:
    if value is None or (isinstance(value, int | float) and 0.0 <= value <= 1.0):
        return value
    raise ValueError(f"field 'last_accuracy' must be empty or in [0, 1], got {value!r:.60}")


def elapsed_seconds(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.0 <= value < math.inf:
        return float(value)
    raise ValueError(f"field 'elapsed_s' must be finite seconds >= 0, got {value!r:.60}")
