"""Three small runs whose events were recorded once, to show later changes leave them unchanged.

FedAsync (seeded choice of idle clients under a concurrency limit, dropouts,
expired tasks), FedBuff (deltas, a buffer) and FedAvg (sampled rounds, partial
work of stragglers; late work cancelled), with momentum, weight decay, FedProx and clipping on the
clients. `tests/sims/data/same_seed/<name>.jsonl` holds each run's events (wall
time `t` removed) as the code before the per-update speed-ups (issue 19) wrote
them; `test_same_seed_events.py` compares against them.

Recording them again (`python -m tests.sims.same_seed`) defeats the test: do it
only for a change that is meant to change the events, and say so in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.sims.built_run import run_and_keep

RECORDED = Path(__file__).parent / "data" / "same_seed"

_COMMON = """
name = "{name}"
seed = 11
mode = "sim"
[client]
epochs = 1
batch_size = 10
lr = 0.05
momentum = 0.9
weight_decay = 0.001
prox_mu = 0.01
max_grad_norm = 5.0
[model]
kind = "logreg"
[data]
kind = "synthetic"
alpha = 1.0
beta = 1.0
num_users = {clients}
[graph]
template = "star"
clients = {clients}
"""

FEDASYNC = (
    _COMMON.format(name="fedasync", clients=12)
    + """
[server]
algorithm = "fedasync"
alpha = 0.5
concurrency = 4
staleness = { kind = "polynomial", a = 0.5 }
task_timeout_s = 20
eval_every = 5
[behaviour.compute]
time = { kind = "lognormal", median_s = 2.0, sigma = 1.0 }
[behaviour.availability]
drop_probability = 0.2
[stop]
max_versions = 30
"""
)

FEDBUFF = (
    _COMMON.format(name="fedbuff", clients=12)
    + """
[server]
algorithm = "fedbuff"
buffer_size = 3
concurrency = 5
eval_every = 2
[behaviour.compute]
time = { kind = "lognormal", median_s = 2.0, sigma = 1.0 }
[stop]
max_versions = 8
"""
)

FEDAVG = (
    _COMMON.format(name="fedavg", clients=10)
    + """
[server]
algorithm = "fedavg"
clients_per_round = 4
round_deadline_s = 10.001
stragglers = "partial"
[behaviour.compute]
time = { kind = "constant", seconds = 10.0 }
straggler_probability = 0.5
straggler_work = "uniform"
[stop]
max_rounds = 4
"""
)

# Late clients' work is cancelled when the round closes (`task_cancelled`), some queued, some in training.
FEDAVG_CANCEL = (
    _COMMON.format(name="fedavg-cancel", clients=10)
    + """
[server]
algorithm = "fedavg"
clients_per_round = 6
round_deadline_s = 4.0
[behaviour.compute]
time = { kind = "lognormal", median_s = 3.0, sigma = 1.0 }
[stop]
max_rounds = 6
"""
)

RUNS = {"fedasync": FEDASYNC, "fedbuff": FEDBUFF, "fedavg": FEDAVG, "fedavg_cancel": FEDAVG_CANCEL}


def events_without_wall_time(text: str, out: Path) -> list[str]:
    """Simulate `text` into `out`; its event log's lines, each without `t`."""
    run_and_keep(text, out)
    lines = []
    for line in (out / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        del record["t"]
        lines.append(json.dumps(record))
    return lines


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, text in RUNS.items():
            lines = events_without_wall_time(text, Path(tmp) / name)
            (RECORDED / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
            print(name, len(lines), "events")


if __name__ == "__main__":
    main()
