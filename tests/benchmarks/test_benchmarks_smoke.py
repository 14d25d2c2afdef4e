"""Every benchmark script runs at its `--quick` size and prints its table, so none of them rots.

These tests look at the shape of the output only: a row per case, a ratio in
every row, the same rows in the JSON file. Timing is never asserted.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT_TIMEOUT_S = 100  # the slowest (transfer) starts four processes that import torch
RATIO = re.compile(r"^\d+\.\d{3}×$")

EXPECTED_CASES = {
    "codec": [
        "encode+decode, state_dict 1×",
        "encode+decode, state_dict 1×, caches cold",
        "encode+decode, parameters only 1×",
        "encode+decode, state_dict 10×",
        "encode+decode at 10× tensor size vs 1×",
        "encode+decode, state_dict 1×",
    ],
    "transfer": ["state_dict over tcp", "state_dict over ipc"],
    "messages": ["round trip, 100 B each way", "one-way rate, 100 B messages"],
    "per_update": [
        "client update, FedAvg K=2 of 10, 2 rounds",
        "client update, FedAvg K=10 of 10, 2 rounds",
        "CLI start",
    ],
    "startup_validate": [
        "validate topologies/examples/fedasync.toml",
        "import topologies.load",
        "import torch",
        "import sklearn.datasets",
    ],
}


def run_quick(script: str, json_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", "--quick", "--json", str(json_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )


def table(stdout: str) -> list[dict[str, str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    header, _separator, *body = ([cell.strip() for cell in line.strip("|").split(" | ")] for line in lines)
    return [dict(zip(header, row, strict=True)) for row in body]


@pytest.mark.timeout(SCRIPT_TIMEOUT_S + 20)
@pytest.mark.parametrize("script", sorted(EXPECTED_CASES))
def test_benchmark_prints_and_writes_a_baseline_our_figure_and_their_ratio_for_every_case(
    script: str, tmp_path: Path
) -> None:
    json_path = tmp_path / f"{script}.json"

    proc = run_quick(script, json_path)

    assert proc.returncode == 0, proc.stderr
    rows = table(proc.stdout)
    assert [r["case"].split(" (")[0] for r in rows] == EXPECTED_CASES[script]
    assert all(RATIO.match(r["ours/baseline"]) for r in rows), rows
    assert all(r["baseline figure"] and r["ours"] for r in rows), rows
    assert "targets: not judged" in proc.stdout
    written = json.loads(json_path.read_text())
    assert written["benchmark"] == script
    assert [r["case"] for r in written["rows"]] == [r["case"] for r in rows]
    for row in written["rows"]:
        assert row["ratio"] == pytest.approx(row["ours"]["median"] / row["baseline"]["median"])
