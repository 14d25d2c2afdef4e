"""Every example topology, simulated briefly under its own seed, recorded once ([9 house]).

The architecture step (issue 13) moves code between modules and must change no
behaviour: `tests/sims/data/same_seed/examples/<example>.jsonl` holds the
events (wall time `t` removed) that each file of `topologies/examples/` (custom
ones included) wrote in sim mode, with the code before that step;
`test_same_seed_events.py` compares against them.

Recording them again (`python -m tests.sims.same_seed_examples`) defeats the
test: do it only for a change that is meant to change the events, and say so
in the commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from launcher import cli
from topologies.specs.data import FASHION_MNIST_DIR

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    p.relative_to(ROOT / "topologies" / "examples").with_suffix("").as_posix().replace("/", "-"): p
    for p in sorted((ROOT / "topologies" / "examples").rglob("*.toml"))
}
RECORDED = Path(__file__).parent / "data" / "same_seed" / "examples"
#: a brief run of each: whichever bound comes first
BRIEF = ("--set", "stop.max_versions=6", "--set", "stop.max_time_s=40")


def needs_missing_data(example: Path) -> bool:
    """Whether `example` reads Fashion-MNIST and this machine has none of it."""
    return "fashion_mnist" in example.read_text() and not FASHION_MNIST_DIR.exists()


def example_events(example: Path, out: Path) -> list[str]:
    """Simulate `example` briefly into `out`; its event log's lines, each without `t`."""
    code = cli.main(["run", str(example), "--mode", "sim", "--workers", "1", "--out", str(out), *BRIEF])
    assert code == 0, f"{example} failed"
    lines = []
    for line in (out / "events.jsonl").read_text().splitlines():
        record = json.loads(line)
        del record["t"]
        lines.append(json.dumps(record))
    return lines


def main() -> None:
    import tempfile

    RECORDED.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, example in EXAMPLES.items():
            lines = example_events(example, Path(tmp) / name)
            (RECORDED / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
            print(name, len(lines), "events")


if __name__ == "__main__":
    main()
