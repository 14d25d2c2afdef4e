"""What every benchmark script shares: repeats, the results table, `--json`, child processes.

A benchmark measures a baseline and our figure in the same run, alternating
between them (repeat by repeat, or block by block where a block is what is
measured) so that a noisy neighbour slows both alike, drops the warm-up
repeats and reports the median of the rest. Child processes are
started with `python -m benchmarks.<module> --child ROLE --bind ADDRESS`, print their
endpoint as their first stdout line and serve until their stdin closes, so a
parent that dies (even by SIGKILL) takes its children with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import select
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import zmq
import zmq.asyncio
from tqdm import tqdm

from actors.logs import configure_logging
from actors.node import Node

ROOT = Path(__file__).resolve().parents[1]
CHILD_READY_TIMEOUT_S = 60.0  # a child imports torch before it binds: seconds on a cold cache
CHILD_EXIT_TIMEOUT_S = 10.0
PROGRESS_DELAY_S = 3.0  # runs shorter than this show no progress bar


class ChildFailedError(RuntimeError):
    """A benchmark child process did not start or did not serve."""


# -- measuring -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stat:
    """Summary of the kept repeats (warm-up already dropped)."""

    median: float
    low: float
    high: float
    n: int

    def scaled(self, factor: float) -> Stat:
        """The same figures in another unit (`factor` > 0)."""
        return Stat(self.median * factor, self.low * factor, self.high * factor, self.n)

    def inverted(self, numerator: float) -> Stat:
        """`numerator / x` of each figure, e.g. seconds per round to MB/s (low and high swap)."""
        return Stat(numerator / self.median, numerator / self.high, numerator / self.low, self.n)

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stat:
        if not samples:
            raise ValueError("no samples to summarise: repeats must be >= 1")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table: a baseline and our figure for the same case.

    Attributes:
        case: what was measured, with its size.
        baseline_name: what we compare against.
        baseline: the baseline's repeats, in `unit` (the table shows the median).
        ours: our repeats, in `unit`.
        unit: "µs" (lower is better), "MB/s" or "msg/s" (higher is better).
        target: the target in words, empty for a reference row.
        met: whether the target was met, None for a reference row.
        note: anything a reader needs to trust the row (split of a time, a size).
    """

    case: str
    baseline_name: str
    baseline: Stat
    ours: Stat
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.ours.median / self.baseline.median


def progress(total: int, desc: str) -> tqdm:
    """A progress bar on stderr that appears only once a run has taken a few seconds."""
    return tqdm(
        total=total,
        desc=desc,
        unit="rep",
        delay=PROGRESS_DELAY_S,
        leave=False,
        file=sys.stderr,
        disable=not sys.stderr.isatty(),
    )


# -- reporting -------------------------------------------------------------------------


def arg_parser(description: str, child_roles: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The options every benchmark takes: `--quick`, `--json PATH`, `--repeats N`.

    With `child_roles`, also the hidden `--child ROLE --bind ADDRESS` that
    `child_process` passes to the script it starts.
    """
    configure_logging("warning")  # before any node binds its logger; stderr keeps stdout clean
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (smoke test)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    parser.add_argument("--repeats", type=int, metavar="N", help="kept repeats per case (after warm-up)")
    if child_roles:
        parser.add_argument("--child", choices=child_roles, help=argparse.SUPPRESS)
        parser.add_argument("--bind", help=argparse.SUPPRESS)
    return parser


def environment() -> dict[str, Any]:
    """What the figures depend on besides our code."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }


def report(benchmark: str, settings: dict[str, Any], rows: Sequence[Row], json_path: Path | None) -> None:
    """Print the results table to stdout; also write it as JSON to `json_path` if given."""
    env = environment()
    print(f"## {benchmark}")
    print(", ".join(f"{k}={v}" for k, v in {**settings, **env}.items()))
    print()
    judged = settings.get("mode") != "quick"
    print(_markdown_table(rows, judged))
    missed = [r.case for r in rows if r.met is False]
    print()
    if not judged:
        print("targets: not judged (--quick runs tiny sizes with few repeats)")
    else:
        print(f"targets missed: {'; '.join(missed)}" if missed else "targets: all met")
    if json_path is not None:
        payload = {
            "benchmark": benchmark,
            "settings": settings,
            "environment": env,
            "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],  # Stat: median, low, high, n
        }
        json_path.write_text(json.dumps(payload, indent=2) + "\n")


def _markdown_table(rows: Sequence[Row], judged: bool) -> str:
    header = ("case", "baseline", "baseline figure", "ours", "ours/baseline", "target", "met", "note")
    lines = [
        (
            r.case,
            r.baseline_name,
            _figure(r.baseline.median, r.unit),
            _figure(r.ours.median, r.unit),
            f"{r.ratio:.3f}×",
            r.target or "(reference)",
            {True: "yes", False: "NO", None: "-"}[r.met if judged else None],
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]

    def fmt(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *(fmt(line) for line in lines)])


def _figure(value: float, unit: str) -> str:
    if unit in ("MB/s", "msg/s"):
        return f"{value:,.0f} {unit}"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


# -- child processes -------------------------------------------------------------------


@contextmanager
def child_process(module: str, role: str, bind: str) -> Iterator[str]:
    """Run `python -m benchmarks.<module> --child ROLE --bind BIND`; yield the endpoint it prints first.

    On leaving, the child's stdin is closed (it stops cleanly), and it is
    killed if it has not exited within `CHILD_EXIT_TIMEOUT_S`.

    Raises:
        ChildFailedError: the child exited or stayed silent before printing its endpoint.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", f"benchmarks.{module}", "--child", role, "--bind", bind],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,  # Ctrl-C reaches only us; the child stops when its stdin closes
    )
    try:
        yield _first_line(proc)
    finally:
        _end(proc)


def _first_line(proc: subprocess.Popen[bytes]) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], CHILD_READY_TIMEOUT_S)
    line = proc.stdout.readline().decode().strip() if ready else ""
    if not line:
        raise ChildFailedError(
            f"child {proc.args!r} printed no endpoint within {CHILD_READY_TIMEOUT_S} s "
            f"(exit code {proc.poll()}); its stderr is above"
        )
    return line


def _end(proc: subprocess.Popen[bytes]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=CHILD_EXIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"warning: child {proc.args!r} did not stop in time and was killed", file=sys.stderr)
    if proc.stdout is not None:
        proc.stdout.close()


def run_main(main: Callable[[], None]) -> None:
    """Run a benchmark's `main`; Ctrl-C ends it quietly (its children stop with it)."""
    try:
        main()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


def announce(endpoint: str) -> None:
    """Child side: hand the parent our endpoint (the first stdout line)."""
    print(endpoint, flush=True)


def stop_when_parent_exits(stop: Callable[[], None]) -> None:
    """Child side: call `stop()` once stdin closes (the parent finished, or died)."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()

    def on_readable() -> None:
        if not os.read(fd, 4096):
            loop.remove_reader(fd)
            stop()

    loop.add_reader(fd, on_readable)


async def serve_node(node: Node) -> None:
    """Child side: run `node`, announce its endpoint, and serve until the parent exits."""
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run(handle_signals=True))
        await node.wait_started()
        assert node.transport is not None
        announce(node.transport.endpoint)
        stop_when_parent_exits(node.stop)


async def serve_router(bind: str, serve: Callable[[zmq.asyncio.Socket], Awaitable[None]]) -> None:
    """Child side: bind a raw ROUTER, announce it, and run `serve(socket)` until the parent exits."""
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.setsockopt(zmq.LINGER, 0)
    try:
        sock.bind(bind)
        announce(sock.getsockopt_string(zmq.LAST_ENDPOINT))
        stopped = asyncio.Event()
        stop_when_parent_exits(stopped.set)
        async with asyncio.TaskGroup() as tg:
            serving = tg.create_task(serve(sock))
            await stopped.wait()
            serving.cancel()
    finally:
        sock.close(linger=0)
        ctx.term()


@asynccontextmanager
async def running(node: Node) -> AsyncIterator[Node]:
    """Parent side: run `node` for the body of the `async with`, then stop it."""
    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await node.wait_started()
        try:
            yield node
        finally:
            node.stop()


@asynccontextmanager
async def raw_dealer(endpoint: str) -> AsyncIterator[zmq.asyncio.Socket]:
    """Parent side: a raw DEALER connected to `endpoint`, closed with linger 0 on leaving."""
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        yield sock
    finally:
        sock.close(linger=0)
        ctx.term()
