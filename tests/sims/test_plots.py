"""Plots tell the truth: each run on its own clock, gossip runs by round, bytes counted for gossip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launcher import cli
from sims.plots import PlotInputError, Run, curves, load_runs, progress_label, time_label
from sims.results import run_clock, summarize
from sims.simulate import simulate
from topologies.load import parse_topology


def rec(event: str, t: float, vt: float, **fields: object) -> dict[str, object]:
    return {"t": t, "vt": vt, "node": "n", "actor": "server", "event": event, **fields}


FEDASYNC = [
    rec("client_joined", 1000.0, 0.0, client="c0"),
    rec("update_applied", 1000.5, 30.0, client="c0", staleness=0, bytes=400),
    rec("model_updated", 1000.5, 30.0, version=1),
    rec("evaluated", 1000.6, 30.0, version=1, accuracy=0.5, loss=1.0),
    rec("update_applied", 1001.0, 60.0, client="c0", staleness=1, bytes=400),
    rec("evaluated", 1001.5, 60.0, version=2, accuracy=0.6, loss=0.8),
]
GOSSIP = [
    rec("gossip_round", 1000.0, 2.0, round=1, bytes=100),
    rec("consensus", 1000.1, 2.0, version=1, distance=1.0, relative=1.0),
    rec("evaluated", 1000.1, 2.0, version=1, accuracy=0.3, loss=2.0),
    rec("gossip_round", 1000.2, 4.0, round=2, bytes=100),
    rec("consensus", 1000.3, 4.0, version=2, distance=0.5, relative=0.5),
    rec("evaluated", 1000.3, 4.0, version=2, accuracy=0.4, loss=1.5),
]


def run_dir(tmp_path: Path, name: str, records: list[dict[str, object]], mode: str | None) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    (directory / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if mode is not None:
        (directory / "topology.json").write_text(json.dumps({"mode": mode}))
    return directory


def test_a_simulation_is_plotted_on_simulated_time_and_a_real_run_on_wall_time() -> None:
    simulated = curves(Run("sim", FEDASYNC, "simulated"))
    real = curves(Run("real", FEDASYNC, "wall"))

    assert simulated["time"] == [30.0, 60.0]
    assert real["time"] == [0.6000000000000227, 1.5]
    assert (simulated["progress"], simulated["bytes"]) == ([1, 2], [400, 800])


def test_a_gossip_run_is_plotted_by_round_with_the_bytes_its_peers_sent() -> None:
    gossip = curves(Run("ring", GOSSIP, "simulated"))

    assert (gossip["progress"], gossip["time"], gossip["bytes"]) == ([1, 2], [2.0, 4.0], [100, 200])


def test_the_axes_say_which_clock_and_what_progress_they_show() -> None:
    sim, real, ring = (
        Run("a", FEDASYNC, "simulated"),
        Run("b", FEDASYNC, "wall"),
        Run("c", GOSSIP, "simulated"),
    )

    assert time_label([sim]) == "simulated time (s)"
    assert time_label([real]) == "wall time (s)"
    assert time_label([sim, real]) == "time (s): simulated for simulations, wall for real runs"
    assert progress_label([sim]) == "updates applied"
    assert progress_label([ring]) == "gossip round"
    assert progress_label([sim, ring]) == "updates applied (gossip round for gossip runs)"


def test_the_clock_of_a_run_directory_comes_from_its_mode(tmp_path: Path) -> None:
    sim = run_dir(tmp_path, "sim", FEDASYNC, "sim")
    local = run_dir(tmp_path, "local", FEDASYNC, "local")
    bare = run_dir(tmp_path, "bare", FEDASYNC, None)

    assert [run_clock(d) for d in (sim, local, bare)] == ["simulated", "wall", "wall"]


def test_plot_labels_runs_by_label_name_or_directory_name(tmp_path: Path) -> None:
    first = run_dir(tmp_path, "server=_algorithm=_fedavg", FEDASYNC, "sim")
    second = run_dir(tmp_path, "2", GOSSIP, "sim")

    runs = load_runs([second], [f"fedavg={first}"])

    assert [(r.label, r.clock, len(r.records)) for r in runs] == [
        ("2", "simulated", 6),
        ("fedavg", "simulated", 6),
    ]


@pytest.mark.parametrize(
    ("labelled", "message"),
    [
        (["fedavg"], "--label must be NAME=DIR, got 'fedavg'"),
        (["a=/nowhere"], "not run directories (no events.jsonl): /nowhere"),
        ([], "name at least one run directory (RUN_DIR or --label NAME=DIR)"),
    ],
)
def test_plot_refuses_a_run_it_cannot_read(labelled: list[str], message: str) -> None:
    with pytest.raises(PlotInputError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        load_runs([], labelled)


def test_fedactors_plot_with_labels_writes_the_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_dir(tmp_path, "a", FEDASYNC, "sim")
    second = run_dir(tmp_path, "b", GOSSIP, "local")
    out = tmp_path / "cmp.png"

    code = cli.main(["plot", "--label", f"fedasync={first}", "--label", f"ring={second}", "--out", str(out)])

    assert code == 0
    assert out.read_bytes().startswith(b"\x89PNG")
    assert capsys.readouterr().out == f"wrote {out}\n"


def test_a_gossip_summary_counts_the_bytes_its_peers_sent() -> None:
    summary = summarize(GOSSIP)

    assert summary["bytes_up"] == 200


def test_each_dpsgd_round_records_the_bytes_a_peer_sent_to_its_neighbours(tmp_path: Path) -> None:
    spec = parse_topology(
        """
name = "ring"
seed = 0
mode = "sim"
[graph]
template = "ring"
peers = 4
[peer]
algorithm = "dpsgd"
gossip_steps = 2
[client]
steps = 1
batch_size = 16
[model]
kind = "logreg"
[data]
kind = "digits"
[stop]
max_rounds = 3
"""
    )

    simulate(spec, tmp_path)

    records = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    sent = {r["bytes"] for r in records if r["event"] == "gossip_round"}
    # logreg on digits: 64 x 10 weights + 10 biases, float32 = 2,600 bytes; 2 steps x 2 neighbours.
    assert sent == {2 * 2 * 2_600}
    assert summarize(records)["bytes_up"] == sum(r["bytes"] for r in records if r["event"] == "gossip_round")
