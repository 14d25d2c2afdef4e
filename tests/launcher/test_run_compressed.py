"""A compressed uplink over real node processes: 8-bit QSGD updates through ZeroMQ."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.launcher.test_run import fedactors
from tests.sims.sizes import DENSE, QSGD8

FEDBUFF_QSGD = """
name = "fedbuff-qsgd-zmq"
seed = 0
[graph]
template = "star"
clients = 4
[server]
algorithm = "fedbuff"
buffer_size = 2
eval_every = 2
[client]
epochs = 1
batch_size = 16
[model]
kind = "logreg"
[data]
kind = "digits"
partition = { kind = "iid" }
[stop]
max_versions = 4
[placement]
processes = 2
[compression]
client = { uplink = { kind = "qsgd", bits = 8 } }
"""


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes; the 2-core CI machine may be busy
def test_an_8_bit_qsgd_uplink_over_zeromq_counts_the_compressed_bytes_the_server_got(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text(FEDBUFF_QSGD, encoding="utf-8")
    out = tmp_path / "run"

    result = fedactors("run", str(tmp_path / "run.toml"), "--out", str(out))

    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    sent = [e for e in events if e["event"] == "message_compressed"]
    assert summary["finish_reason"] == "max_versions"
    assert {e["node"] for e in sent} == {"node-1"}  # the clients' process compressed
    assert {(e["kind"], e["scheme"], e["bytes"], e["dense_bytes"]) for e in sent} == {
        ("fl.update", "qsgd", QSGD8, DENSE)
    }
    applied = summary["updates_applied"]
    assert applied >= 8  # 4 versions of 2 updates
    assert summary["compression"]["uplink"]["bytes"] == len(sent) * QSGD8
    assert (summary["bytes_up"], summary["bytes_up_dense"]) == (applied * QSGD8, applied * DENSE)
    with (out / "updates.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "applied"]
    assert {(r["bytes"], r["dense_bytes"]) for r in rows} == {(str(QSGD8), str(DENSE))}
