"""The Python API (`fedactors`): the example of docs/api.md runs, and its records match the run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import fedactors
from fedactors.records import Table

ROOT = Path(__file__).resolve().parents[1]


def test_the_example_in_docs_api_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "topologies").symlink_to(ROOT / "topologies")

    exec(compile(code.group(1), "docs/api.md", "exec"), {})

    run = fedactors.Run.load(tmp_path / "runs" / "api-example")
    assert run.summary["versions"] == 20
    assert [e["version"] for e in run.evaluations] == [0, 10, 20]
    assert run.evaluations[-1]["accuracy"] == run.summary["final_accuracy"]
    assert sum(c["applied"] for c in run.clients) == 20


def test_overrides_name_keys_with_double_underscores_or_dots() -> None:
    spec = fedactors.load_topology(
        ROOT / "topologies/examples/fedasync.toml", server__alpha=0.25, **{"stop.max_versions": 7}
    )

    assert (spec.server.alpha, spec.stop.max_versions) == (0.25, 7)


def test_to_pandas_without_pandas_says_how_to_install_it() -> None:
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"pip install 'fedactors\[pandas\]'"):
            Table([{"a": 1}]).to_pandas()
    else:
        pytest.skip("pandas is installed: test_to_pandas_gives_a_data_frame covers it")


def test_to_pandas_gives_a_data_frame() -> None:
    pytest.importorskip("pandas")

    frame = Table([{"a": 1, "b": 0.5}, {"a": 2, "b": None}]).to_pandas()

    assert list(frame.columns) == ["a", "b"]
    assert frame["a"].tolist() == [1, 2]


@pytest.mark.slow  # two run processes
def test_a_sweep_over_seeds_returns_the_rows_of_its_table(tmp_path: Path) -> None:
    rows = fedactors.sweep(
        ROOT / "topologies/examples/fedasync.toml",
        ["stop.max_versions=20"],
        seeds=[0, 1],
        out=tmp_path / "sweep",
        jobs=2,
        mode="sim",
    )

    assert [(r["run"], r["seeds"]) for r in rows] == [("max_versions=20", 2)]
    per_seed = [fedactors.Run.load(tmp_path / "sweep" / "01-max_versions=20" / f"seed-{s}") for s in (0, 1)]
    finals = [r.summary["final_accuracy"] for r in per_seed]
    assert rows[0]["final_accuracy_mean"] == pytest.approx(sum(finals) / 2)
