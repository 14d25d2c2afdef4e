"""How long `fedactors validate` takes, and where the time goes.

    python benchmarks/startup_validate.py            # 5 repeats per case
    python benchmarks/startup_validate.py --quick    # 1 repeat (smoke test)

Each case is a fresh interpreter (`python -c ...` or `python -m launcher.cli
validate FILE`), timed from spawn to exit; the baseline is an interpreter
that does nothing, measured alternately in the same run. The reference rows
split the total: the imports that the checks need (the schema, which pulls
in torch through the actor configs; scikit-learn for the digits data).
Target: `validate` of an example under 2 s (issue 16.6).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a plain script: find `benchmarks`

from benchmarks.harness import ROOT, Row, Stat, arg_parser, progress, report, run_main

TARGET_S = 2.0
EXAMPLE = "topologies/examples/fedasync.toml"
CASES = {
    f"validate {EXAMPLE}": ["-m", "launcher.cli", "validate", EXAMPLE],
    "import topologies.load (the schema)": ["-c", "import topologies.load"],
    "import torch": ["-c", "import torch"],
    "import sklearn.datasets (digits)": ["-c", "import sklearn.datasets"],
}
BASELINE = ["-c", "pass"]


def _wall_ms(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, timeout=120)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    args = arg_parser(__doc__.splitlines()[0]).parse_args()
    repeats = args.repeats or (1 if args.quick else 5)
    baseline: list[float] = []
    ours: dict[str, list[float]] = {case: [] for case in CASES}
    _wall_ms(CASES[f"validate {EXAMPLE}"])  # warm-up: the file system cache, .pyc files
    with progress(repeats * (len(CASES) + 1), "startup") as bar:
        for _ in range(repeats):
            for case, command in CASES.items():
                baseline.append(_wall_ms(BASELINE))
                ours[case].append(_wall_ms(command))
                bar.update(2)
    rows = [_row(case, Stat.of(baseline), Stat.of(samples)) for case, samples in ours.items()]
    settings = {"mode": "quick" if args.quick else "full", "repeats": repeats, "example": EXAMPLE}
    report("startup_validate", settings, rows, args.json)


def _row(case: str, baseline: Stat, ours: Stat) -> Row:
    if not case.startswith("validate"):
        return Row(case, "python -c pass", baseline, ours, "ms")
    met = ours.median < TARGET_S * 1000
    return Row(case, "python -c pass", baseline, ours, "ms", f"< {TARGET_S:g} s", met, "spawn to exit")


if __name__ == "__main__":
    run_main(main)
