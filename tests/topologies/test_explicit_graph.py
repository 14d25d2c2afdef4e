from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.topologies.graph_helpers import GRAPH, built, graph_spec
from topologies.errors import MixingError

NODES = """
template = "explicit"
nodes = [{ id = "s", role = "server" }, { group = "c", role = "client", count = 3 }]
"""


def _csv(tmp_path: Path, text: str) -> str:
    path = tmp_path / "edges.csv"
    path.write_text(text)
    return str(path)


def test_a_group_expands_to_numbered_ids_and_target_group_fans_out_to_each() -> None:
    graph = built(NODES + 'edges = [{ source = "s", target_group = "c", codec = "fp16" }]')

    assert [n.id for n in graph.nodes] == ["s", "c-0", "c-1", "c-2"]
    assert [n.index for n in graph.of_role("client")] == [0, 1, 2]
    assert [(e.source, e.target) for e in graph.edges] == [("s", "c-0"), ("s", "c-1"), ("s", "c-2")]
    assert all(e.attrs == {"codec": "fp16"} for e in graph.edges)


def test_edge_link_codec_and_weight_are_kept_in_the_edge_attrs() -> None:
    graph = built(
        NODES + "edges = ["
        '{ source = "s", target = "c-0", link = { latency_s = 0.05, bandwidth_mbps = 10 }, codec = "int8" },'
        '{ source = "s", target = "c-1" }, { source = "s", target = "c-2" }]'
    )

    assert graph.edges[0].attrs == {"link": {"latency_s": 0.05, "bandwidth_mbps": 10}, "codec": "int8"}
    assert graph.edges[1].attrs == {}


def test_an_explicit_graph_of_peers_is_gossip_with_edges_stored_source_below_target() -> None:
    graph = built(
        'template = "explicit"\nnodes = [{ group = "p", role = "peer", count = 3 }]\n'
        'edges = [{ source = "p-1", target = "p-0" }, { source = "p-2", target = "p-1" }]'
    )

    assert graph.kind == "gossip"
    assert [(e.source, e.target) for e in graph.edges] == [("p-0", "p-1"), ("p-1", "p-2")]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            '{ id = "a", group = "b", count = 2, role = "client" }',
            "give id, or group with count, exactly one",
        ),
        ('{ group = "b", role = "client" }', "group and count go together"),
        ('{ id = "a b", role = "client" }', "String should match pattern"),
    ],
)
def test_a_node_entry_must_be_an_id_or_a_counted_group(entry: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        graph_spec(f'template = "explicit"\nnodes = [{entry}]')


def test_an_edge_entry_needs_one_source_and_one_target_and_at_most_one_group() -> None:
    with pytest.raises(ValidationError, match="give target or target_group, exactly one"):
        graph_spec(NODES + 'edges = [{ source = "s" }]')
    with pytest.raises(ValidationError, match="source_group and target_group together"):
        graph_spec(NODES + 'edges = [{ source_group = "c", target_group = "c" }]')


def test_a_tree_refuses_a_mixing_rule() -> None:
    spec = graph_spec(NODES + 'edges = [{ source = "s", target_group = "c" }]\nmixing = { kind = "uniform" }')

    with pytest.raises(MixingError, match="mixing applies to gossip graphs of peers; this graph is a tree"):
        spec.build()


def test_a_csv_edge_list_adds_edges_with_codec_weight_and_link_columns(tmp_path: Path) -> None:
    path = _csv(
        tmp_path,
        "source,target,codec,link.latency_s,link.lossy\ns,c-0,fp16,0.25,true\ns,c-1,,,\ns,c-2,,7,\n",
    )

    graph = built(NODES + f"edges_csv = {path!r}")

    assert [(e.source, e.target) for e in graph.edges] == [("s", "c-0"), ("s", "c-1"), ("s", "c-2")]
    assert graph.edges[0].attrs == {"codec": "fp16", "link": {"latency_s": 0.25, "lossy": True}}
    assert graph.edges[1].attrs == {}
    assert graph.edges[2].attrs == {"link": {"latency_s": 7}}


def test_csv_edges_come_after_the_listed_edges(tmp_path: Path) -> None:
    path = _csv(tmp_path, "source,target\ns,c-1\ns,c-2\n")

    graph = built(NODES + f'edges = [{{ source = "s", target = "c-0" }}]\nedges_csv = {path!r}')

    assert [e.target for e in graph.edges] == ["c-0", "c-1", "c-2"]


def test_a_resolved_topology_keeps_the_csv_edges_and_no_longer_needs_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path, "source,target,weight\ns,c-0,0.5\ns,c-1,\ns,c-2,\n")
    spec = graph_spec(NODES + f"edges_csv = {path!r}")
    dumped = GRAPH.dump_json(spec)
    Path(path).unlink()

    reloaded = GRAPH.validate_json(dumped)

    assert reloaded == spec
    assert reloaded.build() == spec.build()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("source,dest\ns,c-0\n", r"edges\.csv:1: the header needs a 'target' column"),
        ("source,target,colour\ns,c-0,red\n", r"edges\.csv:1: unknown column 'colour'"),
        (
            "source,target,weight\ns,c-0,0.5\ns,c-1,heavy\n",
            r"edges\.csv:3: weight: Input should be a valid number",
        ),
        ("source,target\ns,c-0,extra\n", r"edges\.csv:2: more cells than columns"),
    ],
)
def test_a_bad_csv_edge_list_is_refused_naming_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = _csv(tmp_path, text)

    with pytest.raises(ValidationError, match=message):
        graph_spec(NODES + f"edges_csv = {path!r}")


def test_a_missing_csv_edge_list_is_refused_naming_the_file() -> None:
    with pytest.raises(ValidationError, match=r"edges_csv no/such\.csv: cannot read it"):
        graph_spec(NODES + 'edges_csv = "no/such.csv"')
