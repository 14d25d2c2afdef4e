import subprocess
import sys
from pathlib import Path

import pytest

from launcher.cli import main
from tests.topologies.graph_helpers import graph_spec
from topologies.load import TopologyFileError
from topologies.show import show_topology, summarize

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _file(tmp_path: Path, graph: str, rest: str = "") -> Path:
    path = tmp_path / "topology.toml"
    path.write_text(f"[graph]\n{graph}\n{rest}")
    return path


def test_the_summary_of_a_hierarchy_counts_roles_degrees_and_depth() -> None:
    spec = graph_spec('template = "hierarchy"\nlevels = [1, 4, 40]')

    summary = summarize(spec, spec.build())

    assert summary.kind == "tree"
    assert summary.roles == {"server": 1, "scheduler": 4, "client": 40}
    assert summary.edges == 44
    assert (summary.degree_min, summary.degree_max) == (1, 11)
    assert summary.degree_mean == pytest.approx(88 / 45)
    assert summary.depth == 2
    assert summary.connected
    assert summary.mixing is None
    assert summary.spectral_gap is None


def test_the_summary_of_a_gossip_graph_gives_its_spectral_gap_and_stochasticity() -> None:
    spec = graph_spec('template = "complete"\npeers = 5\nmixing = { kind = "uniform" }')

    summary = summarize(spec, spec.build())

    assert summary.depth is None
    assert summary.mixing == "uniform"
    assert summary.spectral_gap == pytest.approx(1.0)
    assert summary.doubly_stochastic


def test_show_reports_uniform_weights_on_a_star_of_peers_as_not_doubly_stochastic(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        'template = "explicit"\n'
        'nodes = [{ id = "hub", role = "peer" }, { group = "leaf", role = "peer", count = 3 }]\n'
        'edges = [{ source = "hub", target_group = "leaf" }]\nmixing = { kind = "uniform" }',
    )

    text = show_topology(path, tmp_path / "star.png")

    assert "not doubly stochastic: column 0 ('hub') sums to 1.75" in text


def test_show_draws_a_hierarchy_and_a_torus_to_png(tmp_path: Path) -> None:
    hierarchy = show_topology(
        _file(tmp_path, 'template = "hierarchy"\nlevels = [1, 2, 4, 16]'), tmp_path / "hierarchy.png"
    )
    torus = show_topology(_file(tmp_path, 'template = "torus"\nrows = 4\ncols = 5'), tmp_path / "torus.png")

    assert "  depth      3" in hierarchy
    assert "  nodes      23: 1 server, 6 scheduler, 16 client" in hierarchy
    assert "  mixing     metropolis_hastings: spectral gap 0.2764; doubly stochastic" in torus
    assert (tmp_path / "hierarchy.png").read_bytes().startswith(PNG_MAGIC)
    assert (tmp_path / "torus.png").read_bytes().startswith(PNG_MAGIC)


def test_show_needs_only_the_graph_table_to_be_valid(tmp_path: Path) -> None:
    path = _file(tmp_path, 'template = "ring"\npeers = 6', '[server]\nalgorithm = "dpsgd"\n')

    text = show_topology(path, tmp_path / "ring.png")

    assert "nodes      6: 6 peer" in text


def test_show_refuses_a_bad_graph_naming_the_field_and_line(tmp_path: Path) -> None:
    path = _file(tmp_path, 'template = "ring"\npeers = 2', '[server]\nalgorithm = "dpsgd"\n')

    with pytest.raises(TopologyFileError) as caught:
        show_topology(path)

    (problem,) = caught.value.problems
    assert (problem.field, problem.line) == ("graph.peers", 3)
    assert "Input should be greater than or equal to 3" in problem.message


def test_topology_show_exits_2_and_says_why_for_a_graph_that_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(
        tmp_path,
        'template = "explicit"\nnodes = [{ group = "p", role = "peer", count = 4 }]\n'
        'edges = [{ source = "p-0", target = "p-1" }]',
    )

    code = main(["topology", "show", str(path)])

    assert code == 2
    assert "graph: gossip graph is not connected: node 'p-2' has no path to 'p-0'" in capsys.readouterr().err
    assert not path.with_name("topology.graph.png").exists()


def test_fedactors_topology_show_prints_the_summary_and_writes_the_png_next_to_the_file(
    tmp_path: Path,
) -> None:
    path = _file(tmp_path, 'template = "hierarchy"\ngroups = [3, 2]')

    result = subprocess.run(
        [sys.executable, "-m", "launcher.cli", "topology", "show", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{path}: hierarchy graph",
        "  kind       tree",
        "  nodes      8: 1 server, 2 scheduler, 5 client",
        "  edges      7",
        "  degree     min 1, mean 1.75, max 4",
        "  depth      2",
        "  connected  yes",
        f"  drawing    {tmp_path / 'topology.graph.png'}",
    ]
    assert (tmp_path / "topology.graph.png").read_bytes().startswith(PNG_MAGIC)
