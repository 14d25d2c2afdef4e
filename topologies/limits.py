"""The documented limits on what one topology or hosts file may ask for.

Each bounds a resource a file can otherwise make unbounded (memory for node
names and model weights, processes, the loader's own time); a file past one
is refused before anything starts, naming the field (see the "Limits"
section of docs/reliability.md).
"""

from __future__ import annotations

#: Nodes of one graph (clients, schedulers, peers): ten times the largest
#: study benchmarked (`benchmarks/sim_scale.py`, 1,000 clients); a graph of
#: 10⁹ names would need tens of GB before any check could run.
MAX_NODES = 100_000

#: Node processes on one machine (`placement.processes`, a hosts file's
#: `processes_per_host` and per-host `processes`): each costs a Python
#: interpreter with torch (~300 MB, seconds to start); past a few per core
#: they only contend.
MAX_PROCESSES = 64

#: Parameters of the model (counted on torch's `meta` device, which allocates
#: nothing): 10⁸ float32 parameters are 400 MB per copy, and a node holds
#: several copies (global model, each client's, updates in flight).
MAX_MODEL_PARAMETERS = 100_000_000

#: Bytes of a topology or hosts file; long edge lists belong in `edges_csv`.
MAX_FILE_BYTES = 8 * 1024 * 1024

#: Characters of a value echoed back in an error message.
MAX_ECHO_CHARS = 80


def shorten(text: str, limit: int = MAX_ECHO_CHARS) -> str:
    """`text`, cut to `limit` characters with `…[N chars]` when longer."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text)} chars]"
