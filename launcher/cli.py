"""The `fedactors` command."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actors.logs import configure_logging, tracebacks_logged
from sims.errors import SimError
from topologies.errors import TopologyError
from topologies.imports import described_error

if TYPE_CHECKING:
    from launcher.run import RunResult
    from topologies.spec import RunSpec

EXIT_BAD_INPUT = 2
EXIT_TRACEBACK = 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `fedactors` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    before = tracebacks_logged()  # this command's own: main may run several times in one process
    code = int(args.func(args))
    logged = tracebacks_logged() - before
    if code == 0 and logged:
        print(f"fedactors: {logged} traceback(s) logged above: exit code 1", file=sys.stderr)
        return EXIT_TRACEBACK
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedactors", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="console", choices=["console", "json"])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    for add in (_add_run, _add_plot, _add_sweep, _add_validate, _add_topology, _add_node):
        add(commands)
    for add in (_add_launch, _add_keys):
        add(commands)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fedactors")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _add_run(commands: Any) -> None:
    run = commands.add_parser("run", help="run a topology file over local processes")
    run.add_argument("file", type=Path, nargs="?", help="the topology TOML file (not with --resume)")
    run.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the run in RUN_DIR from its checkpoints (after a crash or kill)",
    )
    run.add_argument("--out", type=Path, help="run directory (default: runs/<name>-<time>)")
    run.add_argument(
        "--workers",
        type=_workers,
        help="--mode sim: training worker processes (default: the file's [sim] workers, else one per core)",
    )
    run.add_argument(
        "--mode",
        choices=["local", "sim"],
        help="local: node processes over ZeroMQ; sim: one process on virtual time (default: the file's mode)",
    )
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a key of the file, e.g. --set server.alpha=0.3 (repeatable)",
    )
    run.add_argument(
        "--seeds",
        type=_seeds,
        help="run once per seed in parallel processes (0-4, or 0-2,7) and give mean and 95%% CI",
    )
    run.set_defaults(func=_cmd_run)


def _add_plot(commands: Any) -> None:
    plot = commands.add_parser("plot", help="overlay the curves of several run directories in one figure")
    plot.add_argument("runs", type=Path, nargs="*", help="run directories (labelled by their names)")
    plot.add_argument(
        "--label",
        dest="labelled",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="a run, labelled NAME",
    )
    plot.add_argument("--out", type=Path, default=Path("comparison.png"), help="the PNG to write")
    plot.set_defaults(func=_cmd_plot)


def _add_sweep(commands: Any) -> None:
    grid = commands.add_parser("sweep", help="run a grid of variants of a file and compare them")
    grid.add_argument("file", type=Path)
    grid.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="an axis of the grid, e.g. --set server.alpha=0.3,0.6,0.9 (repeatable)",
    )
    grid.add_argument(
        "--seeds",
        type=_seeds,
        help="run every point once per seed (0-9, or 0-4,7): tables and figure give mean and 95%% CI",
    )
    grid.add_argument("--out", type=Path, help="sweep directory (default: runs/sweep-<name>-<time>)")
    grid.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at once")
    grid.add_argument("--mode", choices=["local", "sim"], help="override the file's mode for every run")
    grid.set_defaults(func=_cmd_sweep)


def _add_validate(commands: Any) -> None:
    check = commands.add_parser("validate", help="check a topology file without running it")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_cmd_validate)


def _add_topology(commands: Any) -> None:
    topology = commands.add_parser("topology", help="inspect a topology file's graph")
    actions = topology.add_subparsers(required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the graph's nodes, degrees, depth, mixing; draw it")
    show.add_argument("file", type=Path, help="the topology TOML file (only its [graph] table must be valid)")
    show.add_argument("--png", type=Path, help="where to draw it (default: <file's folder>/<name>.graph.png)")
    show.set_defaults(func=_cmd_topology_show)


def _add_node(commands: Any) -> None:
    node = commands.add_parser("node", help="run one node process of a launched run (used by launchers)")
    node.add_argument("spec", help="the run's resolved topology JSON, or - to read it from stdin")
    node.add_argument("--node-id", required=True)
    node.add_argument("--coordinator", required=True, help="the launcher's endpoint")
    node.add_argument("--bind", default="tcp://127.0.0.1:*")
    node.add_argument("--advertise", help="host name peers should dial instead of the bound address")
    node.add_argument("--die-with-parent", action="store_true", help="exit when the launcher dies")
    node.add_argument("--exit-on-stdin-eof", action="store_true", help="exit when stdin ends (remote nodes)")
    node.add_argument("--run-label", help="ignored: marks the run's processes in process lists")
    node.set_defaults(func=_cmd_node)


def _add_launch(commands: Any) -> None:
    launch = commands.add_parser("launch", help="run a topology's node processes on hosts (ssh, slurm)")
    launch.add_argument("file", type=Path, help="the topology TOML file")
    launch.add_argument("--hosts", type=Path, help="the hosts file (default: local processes, as `run`)")
    launch.add_argument("--dry-run", action="store_true", help="print host -> node -> actors and exit")
    launch.add_argument("--out", type=Path, help="run directory (default: runs/<name>-<time>)")
    launch.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="as for `run`"
    )
    launch.set_defaults(func=_cmd_launch)


def _add_keys(commands: Any) -> None:
    keys = commands.add_parser("keys", help="make CURVE key pairs for encrypted, authenticated runs")
    actions = keys.add_subparsers(required=True, metavar="ACTION")
    new = actions.add_parser("new", help="write NAME.key (public) and NAME.key_secret (0600)")
    new.add_argument("name", help="the key pair's name: a node id (launcher, node-0, ...) or a shared key's")
    new.add_argument("--dir", type=Path, default=Path("keys"), help="where to write them (default: keys)")
    new.set_defaults(func=_cmd_keys_new)


def _cmd_keys_new(args: argparse.Namespace) -> int:
    from actors.errors import KeyFileError
    from launcher.keys import new_keys

    try:
        public, secret = new_keys(args.name, args.dir)
    except (KeyFileError, ValueError) as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {public} (public: give it to every node's keys directory)")
    print(f"wrote {secret} (secret, mode 0600: keep it on the machine that uses it)")
    return 0


def _load_or_report(path: Path, overrides: Sequence[str] = ()) -> RunSpec | None:
    """The spec after every check a run makes before it starts (`launcher.preflight`),
    or None after printing why not: whatever goes wrong reading the user's files and
    code is a refusal (exit 2) with a one-line reason, never a traceback."""
    from actors.errors import KeyFileError
    from launcher.preflight import check_run

    try:
        return check_run(path, overrides)
    except (TopologyError, SimError, KeyFileError) as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
    except Exception as exc:  # a failure nobody foresaw is still about this file
        print(f"fedactors: {path}: cannot check it: {described_error(exc)}", file=sys.stderr)
    return None


def _cmd_plot(args: argparse.Namespace) -> int:
    from sims.plots import plot_run_dirs

    try:
        plot_run_dirs(args.runs, args.out, args.labelled)
    except SimError as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {args.out}")
    return 0


def _seeds(text: str) -> list[int]:
    from launcher.seeds import parse_seeds

    try:
        return parse_seeds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _cmd_sweep(args: argparse.Namespace) -> int:
    return _sweep(args.file, args.sets, args.out, "sweep-{}", max(1, args.jobs), args.mode, args.seeds, ())


def _sweep(
    file: Path,
    sets: list[str],
    out: Path | None,
    default_name: str,
    jobs: int,
    mode: str | None,
    seeds: list[int] | None,
    base: tuple[str, ...],
) -> int:
    """`fedactors sweep`, and `fedactors run --seeds` (a sweep of one point over seeds)."""
    import time

    from actors.errors import KeyFileError
    from launcher.sweep import sweep

    spec = _load_or_report(file, base)
    if spec is None:
        return EXIT_BAD_INPUT
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    out = out or Path("runs") / f"{default_name.format(spec.name)}-{stamp}"
    try:
        markdown, code = sweep(file, sets, out, jobs, mode, seeds, base)
    except (TopologyError, SimError, KeyFileError, ValueError) as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(markdown)
    print(f"table: {out / 'sweep.md'}, {out / 'sweep.csv'}; figure: {out / 'sweep.png'}")
    return code


def _cmd_validate(args: argparse.Namespace) -> int:
    spec = _load_or_report(args.file)
    if spec is None:
        return EXIT_BAD_INPUT
    kind = f"{spec.algorithm()}, {spec.graph.template}, {spec.placement.processes} processes"
    print(f"{args.file}: ok ({kind})")
    return 0


def _workers(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"--workers must be a whole number >= 1, got {text!r}")
    return int(text)


def _cmd_run(args: argparse.Namespace) -> int:
    from launcher.errors import LauncherError
    from launcher.lifecycle import EXIT_NODE_FAILED
    from launcher.run import default_run_dir, run_local, run_sim
    from sims.devices import check_devices
    from sims.errors import DeviceError

    if args.resume is not None:
        return _resume(args)
    if args.file is None:
        print("fedactors: run needs a topology file, or --resume RUN_DIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.seeds is not None:
        jobs = os.cpu_count() or 1
        return _sweep(args.file, [], args.out, "{}-seeds", jobs, args.mode, args.seeds, tuple(args.overrides))
    mode = [f'mode="{args.mode}"'] if args.mode is not None else []  # checked as the file's own
    spec = _load_or_report(args.file, [*args.overrides, *mode])
    if spec is None:
        return EXIT_BAD_INPUT
    if args.workers is not None:
        spec = spec.model_copy(update={"sim": spec.sim.model_copy(update={"workers": args.workers})})
    run_dir = args.out or default_run_dir(spec)
    try:
        check_devices(spec)
    except DeviceError as exc:  # before any process starts
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if spec.mode == "sim":
        try:
            result = run_sim(spec, args.file, run_dir)
        except (SimError, LauncherError) as exc:  # a worker that did not start or died, a bad hosts file
            print(f"fedactors: {exc}", file=sys.stderr)
            return EXIT_NODE_FAILED
    else:
        result = asyncio.run(run_local(spec, args.file, run_dir))
    return _report(spec.name, result)


def _resume(args: argparse.Namespace) -> int:
    from actors.server.errors import CheckpointError
    from launcher.errors import ResumeError
    from launcher.resume import prepare_resume
    from launcher.run import run_local

    if args.file is not None or args.out is not None or args.mode is not None or args.overrides:
        print(
            "fedactors: --resume continues the run as its directory declares it: "
            "drop FILE, --out, --mode and --set",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    try:
        spec = prepare_resume(args.resume)
    except (ResumeError, CheckpointError) as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return _report(spec.name, asyncio.run(run_local(spec, None, args.resume)))


def _report(name: str, result: RunResult) -> int:
    """Print how a run ended; its exit code."""
    summary = result.summary
    print(
        f"{name}: {result.reason} after {summary['versions']} versions, "
        f"final accuracy {summary['final_accuracy']}, wall {summary['wall_time_s']:.1f} s -> {result.run_dir}"
    )
    return result.exit_code


def _cmd_launch(args: argparse.Namespace) -> int:
    from launcher.errors import LauncherError
    from launcher.launch import format_plan, launch_run, plan_launch
    from launcher.run import default_run_dir

    spec = _load_or_report(args.file, args.overrides)
    if spec is None:
        return EXIT_BAD_INPUT
    try:
        plan = plan_launch(spec, args.hosts)
    except LauncherError as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.dry_run:
        print(format_plan(spec, plan))
        return 0
    result = asyncio.run(launch_run(spec, args.file, args.out or default_run_dir(spec), plan))
    return _report(spec.name, result)


def _cmd_topology_show(args: argparse.Namespace) -> int:
    from topologies.show import show_topology

    try:
        print(show_topology(args.file, args.png))
    except TopologyError as exc:
        print(f"fedactors: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def _cmd_node(args: argparse.Namespace) -> int:
    from actors.node import run_process
    from launcher.node_main import announce_pid, exit_on_stdin_eof, read_spec, serve_node
    from launcher.processes import die_with_parent

    announce_pid()
    if args.die_with_parent:
        die_with_parent(os.getppid())
    spec = read_spec(args.spec)
    if args.exit_on_stdin_eof:
        exit_on_stdin_eof()
    run_process(serve_node(spec, args.node_id, args.coordinator, args.bind, args.advertise))
    return 0


if __name__ == "__main__":
    sys.exit(main())
