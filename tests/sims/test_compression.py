"""Compressed uplinks end to end: FedBuff on a 100 kB/s uplink, on virtual time."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sims.results import read_events, summarize, write_results
from sims.simulate import simulate
from tests.sims.sizes import DENSE, QSGD4, QSGD8, TOPK10
from topologies.load import parse_topology

FEDBUFF = """
name = "fedbuff-compressed"
seed = 0
mode = "sim"
[graph]
template = "star"
clients = 4
[server]
algorithm = "fedbuff"
buffer_size = 2
[client]
epochs = 1
batch_size = 16
[model]
kind = "logreg"
[data]
kind = "digits"
partition = {{ kind = "iid" }}
[behaviour.compute]
time = {{ kind = "constant", seconds = 1.0 }}
[behaviour.links.uplink]
bandwidth_bytes_per_s = 1e5
[stop]
max_versions = 3
"""


def _run(tmp_path: Path, name: str, compression: str = "") -> list[dict[str, object]]:
    out = tmp_path / name
    out.mkdir()
    simulate(parse_topology(FEDBUFF.format() + compression), out)
    return read_events(out / "events.jsonl")


def test_fedbuff_with_8_bit_qsgd_uplinks_sends_a_quarter_of_the_bytes_and_updates_sooner(
    tmp_path: Path,
) -> None:
    dense = _run(tmp_path, "dense")
    events = _run(tmp_path, "qsgd", '[compression]\nclient = { uplink = { kind = "qsgd", bits = 8 } }\n')

    summary = summarize(events)
    sent = [r for r in events if r["event"] == "message_compressed"]
    first = [next(r["vt"] for r in run if r["event"] == "model_updated") for run in (dense, events)]
    assert len(sent) == summary["compression"]["uplink"]["messages"] >= summary["updates_applied"] == 6
    assert {(r["kind"], r["scheme"], r["bytes"], r["dense_bytes"]) for r in sent} == {
        ("fl.update", "qsgd", QSGD8, DENSE)
    }
    assert summary["compression"]["uplink"] == {
        "messages": len(sent),
        "bytes": len(sent) * QSGD8,
        "dense_bytes": len(sent) * DENSE,
        "ratio": pytest.approx(QSGD8 / DENSE),
    }
    assert summary["compression"]["downlink"]["messages"] == 0
    assert (summary["bytes_up"], summary["bytes_up_dense"]) == (6 * QSGD8, 6 * DENSE)
    assert (summary["bytes_down"], summary["bytes_down_dense"]) == (6 * DENSE, 6 * DENSE)
    assert summarize(dense)["compression"] is None
    # one second of compute, then the update over 100 kB/s: the 1,938 tensor bytes saved are 19.4 ms,
    # less the compressed envelope's longer header (names and shapes of the payload, under 200 bytes)
    assert (DENSE - QSGD8 - 200) / 1e5 < first[0] - first[1] < (DENSE - QSGD8) / 1e5


def test_compressed_runs_with_the_same_seed_write_the_same_events(tmp_path: Path) -> None:
    table = (
        "[compression]\n"
        'client = { uplink = { kind = "topk", fraction = 0.1 }, downlink = { kind = "qsgd", bits = 4 } }\n'
    )

    runs = [_run(tmp_path, name, table) for name in ("a", "b")]

    first, second = ([json.dumps({k: v for k, v in r.items() if k != "t"}) for r in run] for run in runs)
    assert first == second
    assert {r["kind"] for r in runs[0] if r["event"] == "message_compressed"} == {"fl.task", "fl.update"}


def test_byte_counters_and_updates_csv_count_the_compressed_bytes_and_keep_the_dense_ones(
    tmp_path: Path,
) -> None:
    table = (
        "[compression]\n"
        'client = { uplink = { kind = "topk", fraction = 0.1 }, downlink = { kind = "qsgd", bits = 4 } }\n'
    )
    _run(tmp_path, "run", table)

    summary = write_results(tmp_path / "run", "run", None)
    with (tmp_path / "run" / "updates.csv").open() as f:
        rows = list(csv.DictReader(f))
    applied = [r for r in rows if r["status"] == "applied"]
    assert len(applied) == summary["updates_applied"] == 6
    assert {(r["bytes"], r["dense_bytes"]) for r in applied} == {(str(TOPK10), str(DENSE))}
    assert (summary["bytes_up"], summary["bytes_up_dense"]) == (6 * TOPK10, 6 * DENSE)
    assert (summary["bytes_down"], summary["bytes_down_dense"]) == (6 * QSGD4, 6 * DENSE)
