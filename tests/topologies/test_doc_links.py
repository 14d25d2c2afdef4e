"""Every relative link in docs/ and the README points at a file that exists, and so does
every path of the repository (`docs/...`, `actors/...`, ...) that a page or a topology
example's comments mention."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
MENTION = re.compile(
    r"(?<![\w/<.-])((?:docs|topologies|benchmarks|actors|sims|launcher|tests)/[\w./-]+\.(?:md|toml|py|png|csv))"
)
#: Paths the docs use as examples of the user's own files.
ILLUSTRATIONS = {"topologies/my_edges.csv"}


def _relative_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    links = [m.group(1).split("#")[0] for m in LINK.finditer(text)]
    return [link for link in links if link and not re.match(r"^[a-z]+:", link)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_of_a_page_resolves(page: Path) -> None:
    broken = [link for link in _relative_links(page) if not (page.parent / link).exists()]

    assert broken == []


def test_every_repository_path_the_pages_and_examples_mention_exists() -> None:
    sources = [*PAGES, *sorted((ROOT / "topologies" / "examples").glob("*.toml"))]
    mentioned = {m.group(1) for s in sources for m in MENTION.finditer(s.read_text(encoding="utf-8"))}

    assert sorted(m for m in mentioned - ILLUSTRATIONS if not (ROOT / m).exists()) == []
