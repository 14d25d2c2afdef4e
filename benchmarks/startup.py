"""Start-up: how long a user waits before a run shows its first event, and what the wait is made of.

    python benchmarks/startup.py             # 3 repeats of each step
    python benchmarks/startup.py --quick     # 1 repeat
    python benchmarks/startup.py --json PATH # also write the rows

Each step runs in a fresh process (a cold start, as a user's command is):

    python                 the interpreter alone
    import torch           the floor every node process pays (the baseline of the ratios)
    import actors          the runtime package (its exports import on first use: no torch)
    import launcher.cli    what `fedactors` imports before it parses its arguments
    fedactors validate     a whole `validate` of the FedAvg example
    build data             the digits split and the model, in a process that has imported torch
    node process ready     `fedactors node` started until it logged that it runs
    first event            `fedactors run` of the FedAvg example (3 node processes) until
                           `events.jsonl` has its first line
    whole short run        the same run to its end with `stop.max_versions = 1`

Targets (issue 16): first event within 8 s, `validate` within 2 s, on the
2-core development machine. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "topologies" / "examples" / "fedavg.toml"
FIRST_EVENT_TARGET_S = 8.0
VALIDATE_TARGET_S = 2.0
POLL_S = 0.01
BUILD_DATA = f"""
import time
import torch
from sims.build import NodeBuilder
from topologies.load import load_topology
spec = load_topology({str(EXAMPLE)!r})
started = time.perf_counter()
builder = NodeBuilder(spec)
builder.initial_weights()
print(time.perf_counter() - started)
"""


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def timed(command: list[str]) -> float:
    """Seconds from spawning `command` until it exits (it must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def reported(command: list[str]) -> float:
    """The seconds `command` prints as its last line."""
    out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def first_event(out_dir: Path) -> float:
    """Seconds from `fedactors run` until its event log has a line (the run then goes on to its end)."""
    events = out_dir / "events.jsonl"
    started = time.perf_counter()
    with subprocess.Popen(
        short_run(out_dir), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as run:
        while not (events.exists() and events.stat().st_size > 0):
            if run.poll() is not None:
                raise RuntimeError(f"the run exited ({run.returncode}) before its first event")
            time.sleep(POLL_S)
        seen = time.perf_counter() - started
        run.wait(timeout=300)
    return seen


def short_run(out_dir: Path) -> list[str]:
    """`fedactors run` of the example, to its first version."""
    return python(
        "-m", "launcher.cli", "run", str(EXAMPLE), "--out", str(out_dir), "--set", "stop.max_versions=1"
    )


def node_ready(out_dir: Path) -> float:
    """A node process's own start: imports, the resolved topology, data and model built
    (what `fedactors node` does before it meets the launcher)."""
    from launcher.run import prepare_run_dir
    from topologies.load import load_topology

    prepare_run_dir(load_topology(EXAMPLE), EXAMPLE, out_dir)
    code = (
        "from pathlib import Path; import launcher.node_main;"
        "from sims.build import NodeBuilder; from topologies.spec import RunSpec;"
        f"NodeBuilder(RunSpec.model_validate_json(Path({str(out_dir / 'topology.json')!r}).read_text()))"
        ".initial_weights()"
    )
    return timed(python("-c", code))


def samples(step: Callable[[], float], repeats: int) -> list[float]:
    return [step() for _ in range(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one repeat of each step")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    repeats = 1 if args.quick else max(1, args.repeats)
    with tempfile.TemporaryDirectory() as tmp:
        runs = iter(range(1_000))

        def fresh() -> Path:
            return Path(tmp) / f"run-{next(runs)}"

        steps: list[tuple[str, Callable[[], float]]] = [
            ("python", lambda: timed(python("-c", "pass"))),
            ("import torch", lambda: timed(python("-c", "import torch"))),
            ("import actors", lambda: timed(python("-c", "import actors"))),
            ("import launcher.cli", lambda: timed(python("-c", "import launcher.cli"))),
            ("fedactors validate", lambda: timed(python("-m", "launcher.cli", "validate", str(EXAMPLE)))),
            ("build data (in process)", lambda: reported(python("-c", BUILD_DATA))),
            ("node process ready", lambda: node_ready(fresh())),
            ("first event", lambda: first_event(fresh())),
            ("whole short run", lambda: timed(short_run(fresh()))),
        ]
        timings = {name: samples(step, repeats) for name, step in steps}
    rows = {name: statistics.median(seconds) for name, seconds in timings.items()}
    baseline = rows["import torch"]
    print("| step | seconds (median) | min–max | × import torch |\n|---|---|---|---|")
    for name, seconds in rows.items():
        spread = f"{min(timings[name]):.2f}–{max(timings[name]):.2f}"
        print(f"| {name} | {seconds:.2f} | {spread} | {seconds / baseline:.3f}× |")
    first, validate = rows["first event"], rows["fedactors validate"]
    for name, seconds, target in (
        ("first event", first, FIRST_EVENT_TARGET_S),
        ("validate", validate, VALIDATE_TARGET_S),
    ):
        print(f"{name}: {seconds:.2f} s, target {target:.0f} s: {'met' if seconds <= target else 'missed'}")
    if args.json is not None:
        args.json.write_text(
            json.dumps({"repeats": repeats, "seconds": rows, "samples": timings}, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
