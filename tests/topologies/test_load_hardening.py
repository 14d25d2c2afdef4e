"""The loader's guarantees: strict types, bounded sizes, user code found next to the file
and checked against its call, short messages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from launcher.preflight import check_model
from topologies.errors import ImportPathError
from topologies.imports import check_signature, resolve_import
from topologies.limits import MAX_NODES, shorten
from topologies.load import TopologyFileError, load_topology, parse_topology

BASE = """
name = "t"
[graph]
template = "star"
clients = 4
[server]
algorithm = "fedasync"
[model]
kind = "logreg"
[data]
kind = "digits"
[stop]
max_versions = 5
"""
MODEL = """
from torch import nn

def tiny(input_shape, num_classes, width=8):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.Linear(width, num_classes))
"""


def _problems(text: str) -> list[tuple[str, str]]:
    with pytest.raises(TopologyFileError) as info:
        parse_topology(text)
    return [(p.field, p.message) for p in info.value.problems]


def test_a_float_key_takes_an_integer_but_an_int_key_takes_no_float_or_string() -> None:
    spec = parse_topology(BASE + "[client]\nlr = 1\n")

    assert spec.client.lr == 1.0
    assert _problems(BASE.replace("clients = 4", "clients = 4.0")) == [
        ("graph.clients", "Input should be a valid integer (got 4.0)")
    ]
    assert _problems(BASE.replace("max_versions = 5", "max_versions = true")) == [
        ("stop.max_versions", "Input should be a valid integer (got True)")
    ]


def test_a_graph_over_the_node_limit_is_refused_before_it_is_built() -> None:
    levels = BASE.replace(
        'template = "star"\nclients = 4', 'template = "hierarchy"\nlevels = [1, 50000, 60000]'
    )

    assert _problems(BASE.replace("clients = 4", f"clients = {MAX_NODES + 1}")) == [
        ("graph.clients", f"Input should be less than or equal to {MAX_NODES} (got {MAX_NODES + 1})")
    ]
    assert _problems(levels) == [("graph", f"the graph has 110001 nodes, more than the limit of {MAX_NODES}")]


def test_an_echoed_value_is_cut_to_80_characters() -> None:
    assert shorten("x" * 100) == "x" * 80 + "…[100 chars]"
    (problem,) = _problems(BASE.replace('name = "t"', 'name = "' + "/" * 10_000 + '"'))
    assert problem[1].endswith("(got '" + "/" * 79 + "…[10002 chars])")


def test_a_user_module_next_to_the_file_is_found_from_any_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study, elsewhere = tmp_path / "study", tmp_path / "elsewhere"
    study.mkdir()
    elsewhere.mkdir()
    (study / "hardening_tiny_model.py").write_text(MODEL)
    model = '[model]\nkind = "custom"\npath = "hardening_tiny_model:tiny"\noptions = { width = 4 }'
    (study / "run.toml").write_text(BASE.replace('[model]\nkind = "logreg"', model))
    monkeypatch.chdir(elsewhere)

    spec = load_topology(study / "run.toml")

    assert spec.import_paths == (str(study), str(elsewhere))
    assert check_model(spec, (64,), 10, "run.toml") == 64 * 4 + 4 + 4 * 10 + 10


def test_a_module_that_is_nowhere_says_where_it_was_looked_for() -> None:
    with pytest.raises(ImportPathError) as info:
        resolve_import("hardening_no_such_module:f")

    assert info.value.reason.startswith(
        "cannot import module 'hardening_no_such_module': no module named 'hardening_no_such_module'; "
        "looked in the installed packages"
    )
    assert info.value.reason.endswith(
        ": put the module's .py file next to the topology file (or in the working directory), or install it"
    )


def test_a_callable_of_the_wrong_signature_is_refused_with_its_signature() -> None:
    import math

    with pytest.raises(ImportPathError) as info:
        check_signature("math:sqrt", math.sqrt, "f(input_shape, num_classes)", (1,), 2)

    assert info.value.reason == (
        "sqrt(x, /) cannot be called as f(input_shape, num_classes) (too many positional arguments)"
    )


def test_a_model_over_the_parameter_limit_is_refused_naming_its_field() -> None:
    text = BASE.replace('kind = "logreg"', 'kind = "mlp"\nhidden = [20000, 10000]')
    spec = parse_topology(text)

    with pytest.raises(TopologyFileError) as info:
        check_model(spec, (64,), 10, "<string>")

    (problem,) = info.value.problems
    count = 64 * 20000 + 20000 + 20000 * 10000 + 10000 + 10000 * 10 + 10
    assert problem.field == "model.hidden"
    assert problem.message == (
        f"the model has {count:,} parameters for inputs (64,) and 10 classes, "
        "more than the limit of 100,000,000"
    )


@pytest.mark.slow
def test_a_node_reading_the_resolved_topology_imports_the_user_module_too(tmp_path: Path) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "hardening_node_model.py").write_text(MODEL)
    model = '[model]\nkind = "custom"\npath = "hardening_node_model:tiny"'
    (study / "run.toml").write_text(BASE.replace('[model]\nkind = "logreg"', model))
    resolved = tmp_path / "topology.json"
    resolved.write_text(load_topology(study / "run.toml").model_dump_json())
    code = textwrap.dedent(f"""
        from launcher.node_main import read_spec
        print(read_spec({str(resolved)!r}).model.path)
    """)

    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )

    assert (result.returncode, result.stdout.strip()) == (0, "hardening_node_model:tiny"), result.stderr
