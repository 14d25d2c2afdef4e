"""The launcher reads a node's stderr whatever its lines are: no line stops the reading."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from launcher.processes import MAX_LINE_BYTES, LineCutter, start_process, wait_all


def test_a_line_longer_than_the_limit_is_cut_with_its_size_and_the_next_lines_are_whole() -> None:
    cutter = LineCutter(max_bytes=10)

    lines = cutter.feed(b"short\n" + b"y" * 25) + cutter.feed(b"y" * 5 + b"\nnext\nhalf") + cutter.end()

    assert lines == ["short", "yyyyyyyyyy ...[20 more bytes cut]", "next", "half"]


def test_a_node_that_writes_a_200_kib_line_then_many_more_is_read_to_its_end(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "sys.stderr.write('z' * 200_000 + '\\n')\n"
        "for i in range(3_000): sys.stderr.write(f'line {i}\\n')\n"
        "sys.stderr.write('last\\n')\n"
    )
    echoed: list[str] = []

    async def main() -> int:
        node = await start_process("node-x", [sys.executable, "-c", script], tmp_path, echoed.append)
        await wait_all([node], timeout_s=60)
        return node.proc.returncode or 0

    code = asyncio.run(main())

    log = (tmp_path / "node-x.log").read_text().splitlines()
    assert code == 0
    assert log[0] == "z" * MAX_LINE_BYTES + f" ...[{200_000 - MAX_LINE_BYTES} more bytes cut]"
    assert log[1:] == [*(f"line {i}" for i in range(3_000)), "last"]
    assert echoed[-1] == "[localhost/node-x] last"
