"""What one client update costs in `--mode sim`, against a bare torch loop doing the same training.

    python benchmarks/per_update.py            # 3 repeats per case (after a warm-up)
    python benchmarks/per_update.py --quick    # tiny sizes, 1 repeat (smoke test)

The workload (issue 19): 100 clients x 30 samples of Synthetic(1,1), logistic
regression 60 -> 10, 1 local epoch, batch 10, lr 0.05, FedAvg with K = 10 and
K = 100 clients a round, 20 rounds, one torch thread. The simulation runs the
topology file's whole path (`sims.simulate`: the actors, the virtual clock,
the event log; training inline, `[sim] workers = 1`); the baseline is the loop
a researcher writes by hand in the same process, on the same shards, shuffled
by the same seeds (task seeds of the clients), with one model and one
`torch.optim.SGD` for the whole run. Both score the global model on the test
set before the first round and after the last. The figure is CPU time
(`time.process_time`) per client update, alternating baseline and simulation
repeat by repeat; the note gives each figure's min-max and the ratio's min-max
over the repeats.

The last row is the start of the CLI (`python -m launcher.cli --version`,
spawn to exit) against an interpreter that does nothing.
Target: simulation <= 1.2x the bare loop at K = 100.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script: find `benchmarks`

from actors.client.trainer import task_seed
from benchmarks.harness import ROOT, Row, Stat, arg_parser, progress, report, run_main
from sims.build import NodeBuilder, derived_seed
from sims.models import build_model
from sims.simulate import simulate
from topologies.load import parse_topology
from topologies.spec import RunSpec

TARGET = 1.2  # simulation / bare loop at the largest K
LR = 0.05
BATCH_SIZE = 10

SPEC = """
name = "per-update"
seed = 0
mode = "sim"
[graph]
template = "star"
clients = {clients}
[server]
algorithm = "fedavg"
clients_per_round = {k}
eval_every = {rounds}
[client]
epochs = 1
batch_size = {batch_size}
lr = {lr}
[model]
kind = "logreg"
[data]
kind = "synthetic"
alpha = 1.0
beta = 1.0
num_users = {clients}
min_samples = {samples}
max_samples = {samples}
test_fraction = 0.1
[stop]
max_rounds = {rounds}
[sim]
workers = 1
"""


def workload(clients: int, k: int, rounds: int) -> RunSpec:
    """The benchmark's topology: `clients` x 30 training samples (33 drawn, 3 kept for the test set)."""
    text = SPEC.format(clients=clients, k=k, rounds=rounds, batch_size=BATCH_SIZE, lr=LR, samples=33)
    return parse_topology(text)


def sim_run(spec: RunSpec) -> tuple[float, int, float]:
    """CPU seconds of `simulate`, the updates it applied, and the final accuracy."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.process_time()
        simulate(spec, Path(tmp))
        cpu = time.process_time() - started
        events = [json.loads(line) for line in (Path(tmp) / "events.jsonl").read_text().splitlines()]
    updates = sum(1 for e in events if e["event"] == "update_applied")
    accuracy = [e["accuracy"] for e in events if e["event"] == "evaluated"][-1]
    return cpu, updates, accuracy


class BareLoop:
    """FedAvg written by hand: one model, one optimizer, the sim's shards and task seeds."""

    def __init__(self, spec: RunSpec) -> None:
        assert spec.server is not None
        assert spec.stop.max_rounds is not None
        builder = NodeBuilder(spec)
        self.shards = [(c.x, c.y) for c in builder.data.clients]
        self.test = (builder.data.test_x, builder.data.test_y)
        self.initial = builder.initial_weights()
        self.model = build_model(spec.model, builder.data.input_shape, builder.data.num_classes, spec.seed)
        self.k = spec.server.clients_per_round or len(self.shards)  # type: ignore[union-attr]
        self.rounds = spec.stop.max_rounds
        self.seeds = [derived_seed(spec.seed, 1, i) for i in range(len(self.shards))]
        self.server_seed = derived_seed(spec.seed, 0)

    def run(self) -> tuple[float, int, float]:
        """CPU seconds of the whole loop, the updates it made, and the final accuracy."""
        started = time.process_time()
        params = [p for p in self.model.parameters()]
        optimizer = torch.optim.SGD(params, lr=LR)
        global_ = [t.clone() for t in self.initial.values()]
        tasks = [0] * len(self.shards)
        sampler = random.Random(self.server_seed)
        self._accuracy(global_)
        for _ in range(self.rounds):
            sampled = sorted(sampler.sample(range(len(self.shards)), self.k))
            total = [torch.zeros_like(g) for g in global_]
            weight = 0
            for client in sampled:
                delta, n = self._update(client, tasks[client], params, optimizer, global_)
                tasks[client] += 1
                for t, d in zip(total, delta, strict=True):
                    t.add_(d, alpha=n)
                weight += n
            global_ = [g + t / weight for g, t in zip(global_, total, strict=True)]
        accuracy = self._accuracy(global_)
        return time.process_time() - started, self.rounds * self.k, accuracy

    def _update(
        self,
        client: int,
        number: int,
        params: list[torch.nn.Parameter],
        optimizer: torch.optim.Optimizer,
        global_: list[torch.Tensor],
    ) -> tuple[list[torch.Tensor], int]:
        x, y = self.shards[client]
        with torch.no_grad():
            for p, g in zip(params, global_, strict=True):
                p.copy_(g)
        generator = torch.Generator().manual_seed(task_seed(self.seeds[client], number))
        loss_sum = 0.0
        for batch in torch.randperm(len(y), generator=generator).split(BATCH_SIZE):
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)  # the mean loss an FL client reports
        return [p.detach() - g for p, g in zip(params, global_, strict=True)], len(y)

    @torch.no_grad()
    def _accuracy(self, global_: list[torch.Tensor]) -> float:
        for p, g in zip(self.model.parameters(), global_, strict=True):
            p.copy_(g)
        x, y = self.test
        return (self.model(x).argmax(dim=1) == y).float().mean().item()


def cli_start_ms(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, timeout=120)
    return (time.perf_counter() - started) * 1000


def measure_k(spec: RunSpec, repeats: int, tick: Callable[[], None]) -> Row:
    """Alternate bare loop and simulation; the first pair is a warm-up (torch's first calls)."""
    bare_loop = BareLoop(spec)
    bare: list[float] = []
    ours: list[float] = []
    accuracy: tuple[float, float] = (0.0, 0.0)
    for repeat in range(repeats + 1):
        bare_cpu, bare_updates, bare_accuracy = bare_loop.run()
        sim_cpu, sim_updates, sim_accuracy = sim_run(spec)
        tick()
        if repeat > 0:
            bare.append(1e6 * bare_cpu / bare_updates)
            ours.append(1e6 * sim_cpu / sim_updates)
            accuracy = (bare_accuracy, sim_accuracy)
    return _row(
        spec, Stat.of(bare), Stat.of(ours), [o / b for o, b in zip(ours, bare, strict=True)], accuracy
    )


def _row(spec: RunSpec, bare: Stat, ours: Stat, ratios: list[float], accuracy: tuple[float, float]) -> Row:
    k = spec.server.clients_per_round  # type: ignore[union-attr]
    clients = spec.graph.clients  # type: ignore[union-attr]
    case = f"client update, FedAvg K={k} of {clients}, {spec.stop.max_rounds} rounds"
    note = (
        f"CPU µs min-max: bare {bare.low:,.0f}-{bare.high:,.0f}, sim {ours.low:,.0f}-{ours.high:,.0f}; "
        f"ratio {min(ratios):.3f}-{max(ratios):.3f}; "
        f"final accuracy bare {accuracy[0]:.3f}, sim {accuracy[1]:.3f}"
    )
    return Row(
        case,
        "bare torch loop",
        bare,
        ours,
        "µs",
        f"<= {TARGET:g}x",
        ours.median <= TARGET * bare.median,
        note,
    )


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    clients, ks, rounds = (10, (2, 10), 2) if args.quick else (100, (10, 100), 20)
    torch.set_num_threads(1)
    specs = [workload(clients, k, rounds) for k in ks]
    with progress(len(ks) * (repeats + 1) + 1, "per_update") as bar:
        rows = [measure_k(spec, repeats, lambda: bar.update(1)) for spec in specs]
        rows[:-1] = [_as_reference(row) for row in rows[:-1]]  # the target is judged at the largest K
        rows.append(_cli_row(repeats, warm_up=not args.quick))
        bar.update(1)
    settings = {
        "mode": "quick" if args.quick else "full",
        "repeats": repeats,
        "clients": clients,
        "samples_per_client": 30,
        "rounds": rounds,
        "torch_threads": torch.get_num_threads(),
    }
    report("per_update", settings, rows, args.json)


def _as_reference(row: Row) -> Row:
    return Row(row.case, row.baseline_name, row.baseline, row.ours, row.unit, note=row.note)


def _cli_row(repeats: int, warm_up: bool) -> Row:
    if warm_up:  # the file system cache, .pyc files
        cli_start_ms(["-m", "launcher.cli", "--version"])
    baseline: list[float] = []
    ours: list[float] = []
    for _ in range(repeats):
        baseline.append(cli_start_ms(["-c", "pass"]))
        ours.append(cli_start_ms(["-m", "launcher.cli", "--version"]))
    note = f"spawn to exit, ms min-max: {min(ours):,.0f}-{max(ours):,.0f}"
    return Row(
        "CLI start (launcher.cli --version)",
        "python -c pass",
        Stat.of(baseline),
        Stat.of(ours),
        "ms",
        note=note,
    )


if __name__ == "__main__":
    run_main(main)
