"""The Slurm backend: the allocation read from a recorded `SLURM_*` environment, the
placement and `srun` command lines built from it, and (slow) real steps on a
one-host slurm-wlm cluster started by the test."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.backends import BACKENDS
from launcher.backends.base import BackendError, NodeLaunch
from launcher.backends.slurm import (
    SlurmBackend,
    SlurmOptions,
    launcher_host,
    parse_steps,
    slurm_hosts,
    slurm_options,
    srun_command,
)
from launcher.hosts import HostsFileError, HostSpec, HostsSpec
from launcher.processes import NodeProcess
from launcher.slurm_env import (
    SlurmAllocation,
    SlurmEnvError,
    allocation_from_env,
    expand_counts,
    expand_hostlist,
)
from sims.build import build_graph
from tests.launcher.slurm_cluster import missing_binaries, one_host_cluster, poll_until, wait_for_line
from tests.launcher.test_run import processes_mentioning
from topologies.load import load_topology
from topologies.placement import HostSlots, plan_hosts

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "topologies" / "examples"
DATA = Path(__file__).parent / "data"
PYTHON = "/home/alice/fedactors/.venv/bin/python"
RUN = "fedasync-digits-20261121-020000"


def recorded_env(name: str = "slurm_env.json") -> dict[str, str]:
    """A recorded `env | grep ^SLURM`, without the note that says where it came from."""
    env = json.loads((DATA / name).read_text(encoding="utf-8"))
    return {k: v for k, v in env.items() if not k.startswith("_")}


def hosts_file(host: str = "cn017", **tables: object) -> HostsSpec:
    """A slurm hosts file; it must name one host for now (`HostsSpec.hosts` has `min_length=1`)."""
    return HostsSpec.model_validate({"backend": "slurm", "hosts": {host: {}}, **tables})


def launch_for(
    host: HostSpec, node_id: str, spec_path: Path = Path(f"runs/{RUN}/topology.json")
) -> NodeLaunch:
    """The `NodeLaunch` a launcher on cn017 builds for `node_id` on `host`."""
    return NodeLaunch(
        node_id=node_id,
        host=host,
        spec_path=spec_path,
        coordinator="tcp://cn017:40123",
        bind=f"tcp://{host.bind}:*",
        advertise=host.dial,
        run_label=RUN,
    )


# -- host lists and counts -----------------------------------------------------


@pytest.mark.parametrize(
    ("hostlist", "hosts"),
    [
        ("login5", ["login5"]),
        ("node[01-03,07]", ["node01", "node02", "node03", "node07"]),
        (
            "node[01-03,07],gpu-a[1-2]x,login5",
            ["node01", "node02", "node03", "node07", "gpu-a1x", "gpu-a2x", "login5"],
        ),
        ("rack[1-2]-n[01-02]", ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]),
        ("n[8-10]", ["n8", "n9", "n10"]),
        ("n[098-101]", ["n098", "n099", "n100", "n101"]),
        ("n[7,1-2]", ["n7", "n1", "n2"]),
        ("c1.cluster.org,c[2-3].cluster.org", ["c1.cluster.org", "c2.cluster.org", "c3.cluster.org"]),
        ("[3-4]a", ["3a", "4a"]),
    ],
)
def test_hostlist_expands_ranges_padding_suffixes_and_several_brackets(
    hostlist: str, hosts: list[str]
) -> None:
    expanded = expand_hostlist(hostlist)

    assert expanded == hosts


@pytest.mark.parametrize(
    ("hostlist", "message"),
    [
        ("node[1-2", "'[' without a matching ']'"),
        ("node1]", "']' without a matching '[' at character 6"),
        ("n[[1-2]]", "nested '[' at character 3"),
        ("a,,b", "expected host names separated by commas, found an empty one"),
        ("", "expected host names separated by commas, found an empty one"),
        ("n[3-1]", "range '3-1' in [3-1] runs backwards"),
        ("n[]", "expected N or LO-HI inside [], found ''"),
        ("n[1-a]", "expected N or LO-HI inside [1-a], found '1-a'"),
        ("n[1-2],n2", "host 'n2' is listed twice"),
        ("n[0-99999]", "range '0-99999' has over 65536 hosts"),
        ("a b", "unexpected character in host name 'a b'"),
    ],
)
def test_malformed_hostlist_is_refused_naming_the_variable_and_the_fault(hostlist: str, message: str) -> None:
    with pytest.raises(SlurmEnvError) as caught:
        expand_hostlist(hostlist, "SLURM_JOB_NODELIST")

    assert caught.value.variable == "SLURM_JOB_NODELIST"
    assert caught.value.value == hostlist
    assert str(caught.value) == f"SLURM_JOB_NODELIST: {message}; got {hostlist!r}"


@pytest.mark.parametrize(
    ("text", "counts"), [("2(x3),1", [2, 2, 2, 1]), ("4", [4]), ("36(x2),72", [36, 36, 72]), ("1(x1)", [1])]
)
def test_tasks_per_node_expands_repeat_counts(text: str, counts: list[int]) -> None:
    assert expand_counts(text, "SLURM_TASKS_PER_NODE") == counts


@pytest.mark.parametrize("text", ["", "2(x)", "2x3", "2(x0)", "-1", "2(x3)1"])
def test_malformed_counts_are_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(SlurmEnvError, match=r"^SLURM_TASKS_PER_NODE: expected N or N\(xR\)"):
        expand_counts(text, "SLURM_TASKS_PER_NODE")


# -- the allocation from a recorded environment ------------------------------


def test_recorded_three_node_batch_environment_gives_the_exact_allocation() -> None:
    env = recorded_env()

    allocation = allocation_from_env(env)

    assert allocation == SlurmAllocation(
        job_id="4242",
        hosts=("cn017", "cn018", "cn021"),
        tasks_per_host=(2, 2, 1),
        cpus_per_host=(8, 8, 4),
        cpus_on_node=8,
        submit_dir=Path("/home/alice/fedactors"),
        job_name="fedasync",
    )
    assert launcher_host(env) == "cn017"  # inside sbatch the launcher runs on the batch host


def test_recorded_one_host_salloc_environment_gives_the_exact_allocation() -> None:
    env = recorded_env("slurm_env_salloc_onehost.json")

    allocation = allocation_from_env(env)

    assert allocation == SlurmAllocation(
        job_id="2",
        hosts=("vm",),
        tasks_per_host=(2,),
        cpus_per_host=(2,),
        cpus_on_node=None,
        submit_dir=Path("/tmp"),
        job_name="fedactors-test",
    )


def test_old_variable_names_are_read_when_the_new_ones_are_absent() -> None:
    env = {"SLURM_JOBID": "77", "SLURM_NODELIST": "a[1-2]"}

    allocation = allocation_from_env(env)

    assert (allocation.job_id, allocation.hosts, allocation.tasks_per_host) == ("77", ("a1", "a2"), (1, 1))


def test_outside_an_allocation_the_error_names_the_job_id_variable() -> None:
    with pytest.raises(SlurmEnvError) as caught:
        allocation_from_env({"HOME": "/root"})

    assert caught.value.variable == "SLURM_JOB_ID"
    assert caught.value.value is None
    assert str(caught.value) == (
        "SLURM_JOB_ID: expected inside a Slurm allocation (nor SLURM_JOBID); "
        "start the run under salloc or sbatch; it is not set"
    )


def test_missing_nodelist_is_named() -> None:
    with pytest.raises(
        SlurmEnvError, match=r"^SLURM_JOB_NODELIST: expected inside a Slurm allocation \(nor SLURM_NODELIST\)"
    ):
        allocation_from_env({"SLURM_JOB_ID": "4242"})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SLURM_JOB_ID", "4242+1", "expected a job id of digits (heterogeneous jobs unsupported)"),
        ("SLURM_TASKS_PER_NODE", "2(x2)", "expected one count per host (3), found 2"),
        ("SLURM_TASKS_PER_NODE", "2,0,1", "expected counts of at least 1"),
        ("SLURM_JOB_CPUS_PER_NODE", "8(x4)", "expected one count per host (3), found 4"),
        ("SLURM_CPUS_ON_NODE", "eight", "expected a positive whole number"),
    ],
)
def test_malformed_recorded_variable_is_refused_by_name(variable: str, value: str, message: str) -> None:
    env = {**recorded_env(), variable: value}

    with pytest.raises(SlurmEnvError) as caught:
        allocation_from_env(env)

    assert (caught.value.variable, caught.value.value, caught.value.reason) == (variable, value, message)


# -- hosts and placement -------------------------------------------------------


def test_allocation_hosts_run_as_many_processes_as_slurm_planned_tasks() -> None:
    allocation = allocation_from_env(recorded_env())

    hosts = slurm_hosts(allocation, None, python=PYTHON)

    assert [(h.name, h.processes, h.python, h.dial, h.bind) for h in hosts] == [
        ("cn017", 2, PYTHON, "cn017", "0.0.0.0"),
        ("cn018", 2, PYTHON, "cn018", "0.0.0.0"),
        ("cn021", 1, PYTHON, "cn021", "0.0.0.0"),
    ]


def test_hosts_file_processes_per_host_and_host_tables_override_the_allocation() -> None:
    allocation = allocation_from_env(recorded_env())
    spec = HostsSpec.model_validate(
        {
            "backend": "slurm",
            "defaults": {"python": "/opt/fl/bin/python", "env": {"OMP_NUM_THREADS": "1"}},
            "hosts": {"cn021": {"advertise": "cn021-ib", "processes": 3}},
            "placement": {"processes_per_host": 1},
        }
    )

    hosts = slurm_hosts(allocation, spec)

    assert [(h.name, h.processes, h.python, h.dial, h.env) for h in hosts] == [
        ("cn017", 1, "/opt/fl/bin/python", "cn017", {"OMP_NUM_THREADS": "1"}),
        ("cn018", 1, "/opt/fl/bin/python", "cn018", {"OMP_NUM_THREADS": "1"}),
        ("cn021", 3, "/opt/fl/bin/python", "cn021-ib", {"OMP_NUM_THREADS": "1"}),
    ]


def test_hosts_table_for_a_host_outside_the_allocation_is_refused() -> None:
    allocation = allocation_from_env(recorded_env())
    spec = HostsSpec.model_validate({"backend": "slurm", "hosts": {"cn099": {}}})

    with pytest.raises(
        SlurmEnvError, match=r"\[hosts\.cn099\] table, but the allocation does not hold that host"
    ):
        slurm_hosts(allocation, spec)


def test_recorded_allocation_places_the_server_first_and_five_clients_per_worker_process() -> None:
    spec = load_topology(EXAMPLES / "fedasync.toml")
    backend = SlurmBackend(hosts_file(), env=recorded_env())

    plans = plan_hosts(build_graph(spec), [HostSlots(h.name, h.processes) for h in backend.hosts()])

    assert [(p.node_id, p.host, len(p.actors)) for p in plans] == [
        ("node-0", "cn017", 1),
        ("node-1", "cn017", 5),
        ("node-2", "cn018", 5),
        ("node-3", "cn018", 5),
        ("node-4", "cn021", 5),
    ]
    assert plans[0].actors == ("server",)


# -- srun command lines --------------------------------------------------------


def test_each_node_of_the_recorded_allocation_gets_one_exact_srun_step_on_its_host() -> None:
    allocation = allocation_from_env(recorded_env())
    hosts = {h.name: h for h in slurm_hosts(allocation, None, python=PYTHON)}

    command = srun_command(launch_for(hosts["cn018"], "node-2"), allocation.job_id, SlurmOptions())

    assert command == [
        "srun",
        "--jobid=4242",
        "--nodes=1",
        "--ntasks=1",
        "--nodelist=cn018",
        f"--job-name={RUN}.node-2",
        "--kill-on-bad-exit=1",
        "--export=ALL",
        "--overlap",
        "--",
        PYTHON,
        "-m",
        "launcher.cli",
        "node",
        "-",
        "--node-id",
        "node-2",
        "--coordinator",
        "tcp://cn017:40123",
        "--bind",
        "tcp://0.0.0.0:*",
        "--advertise",
        "cn018",
        "--run-label",
        RUN,
        "--exit-on-stdin-eof",
        "--die-with-parent",
    ]


def test_srun_command_carries_cpus_workdir_extra_options_and_host_environment() -> None:
    allocation = allocation_from_env(recorded_env())
    spec = HostsSpec.model_validate(
        {
            "backend": "slurm",
            "defaults": {"python": "python3", "workdir": "/scratch/fl", "env": {"B": "2,3", "A": "1"}},
            "hosts": {"cn017": {}},
            "slurm": {
                "cpus_per_task": 4,
                "overlap": False,
                "srun_args": ["--mem=0"],
                "srun": "/opt/slurm/bin/srun",
            },
        }
    )
    host = slurm_hosts(allocation, spec)[0]

    command = srun_command(launch_for(host, "node-0"), allocation.job_id, slurm_options(spec.slurm))

    assert command[:13] == [
        "/opt/slurm/bin/srun",
        "--jobid=4242",
        "--nodes=1",
        "--ntasks=1",
        "--nodelist=cn017",
        f"--job-name={RUN}.node-0",
        "--kill-on-bad-exit=1",
        "--export=ALL",
        "--cpus-per-task=4",
        "--chdir=/scratch/fl",
        "--mem=0",
        "--",
        "env",
    ]
    assert command[13:19] == ["A=1", "B=2,3", "python3", "-m", "launcher.cli", "node"]


def test_unknown_slurm_option_is_refused_naming_the_key() -> None:
    with pytest.raises(HostsFileError) as caught:
        slurm_options({"cpus_per_tsk": 4, "cpus_per_task": 0})

    assert sorted(caught.value.fields) == ["slurm.cpus_per_task", "slurm.cpus_per_tsk"]


def test_backend_is_registered_and_refuses_to_start_outside_an_allocation() -> None:
    assert BACKENDS["slurm"] == "launcher.backends.slurm:SlurmBackend"

    with pytest.raises(SlurmEnvError, match=r"^SLURM_JOB_ID: expected inside a Slurm allocation"):
        SlurmBackend(hosts_file(), env={})


def test_squeue_steps_are_read_by_name_for_this_job_only() -> None:
    text = "4242.0|run.node-0\n4242.1|run.node-1\n4242.batch|batch\n4243.0|run.node-0\n4242.extern|extern\n"

    steps = parse_steps(text, "4242")

    assert steps == {
        "run.node-0": "4242.0",
        "run.node-1": "4242.1",
        "batch": "4242.batch",
        "extern": "4242.extern",
    }


async def test_missing_srun_is_a_backend_error_naming_node_host_and_command(tmp_path: Path) -> None:
    backend = SlurmBackend(hosts_file(slurm={"srun": "no-such-srun"}), env=recorded_env())
    host = backend.hosts()[1]

    with pytest.raises(
        BackendError, match=r"cannot start node 'node-2' on cn018: 'no-such-srun' is not on PATH"
    ) as caught:
        await backend.start(launch_for(host, "node-2"), tmp_path, print)

    assert caught.value.command[0] == "no-such-srun"


def test_nodes_dial_the_batch_host_unless_the_hosts_file_says_otherwise() -> None:
    plain = SlurmBackend(hosts_file(), env=recorded_env())
    told = SlurmBackend(hosts_file(launcher={"advertise": "10.1.0.17"}), env=recorded_env())

    assert (plain.launcher_dial(), told.launcher_dial()) == ("cn017", "10.1.0.17")


# -- real Slurm ----------------------------------------------------------------

needs_slurm = pytest.mark.skipif(
    bool(missing_binaries()) or os.geteuid() != 0,
    reason=f"needs Debian's slurm-wlm and root (missing: {', '.join(missing_binaries()) or 'root'})",
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A one-host slurm-wlm cluster for this module; stopped even when a test failed."""
    with one_host_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


@pytest.fixture
def allocation_env(cluster: dict[str, str], tmp_path: Path) -> Iterator[dict[str, str]]:
    """The real environment of a `salloc -N1 -n2` allocation, held until the test ends.

    salloc's command writes its environment to a file and then waits on its
    stdin; closing that stdin releases the allocation.
    """
    env_file = tmp_path / "salloc.env"
    holder = subprocess.Popen(
        [
            "salloc",
            "-N1",
            "-n2",
            "--job-name=fedactors-test",
            "sh",
            "-c",
            'env -0 > "$1.tmp" && mv "$1.tmp" "$1" && exec cat',
            "sh",
            str(env_file),
        ],
        env=cluster,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        poll_until(lambda: env_file.exists() or holder.poll() is not None, 60.0, "salloc allocation")
        assert env_file.exists(), f"salloc exited with code {holder.returncode}"
        pairs = (item.partition("=") for item in env_file.read_text().split("\0") if item)
        yield {key: value for key, _, value in pairs}
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()


async def started_or_exited(node: NodeProcess) -> None:
    """Wait until the node printed its pid (it runs) or its `srun` exited (it never will)."""
    waits = [asyncio.ensure_future(node.pid_known.wait()), asyncio.ensure_future(node.proc.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()


def squeue_steps(env: dict[str, str]) -> dict[str, str]:
    listing = subprocess.run(
        ["squeue", "--steps", "--noheader", "--format=%i|%j", f"--jobs={env['SLURM_JOB_ID']}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return parse_steps(listing.stdout, env["SLURM_JOB_ID"])


@needs_slurm
@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_real_slurm_runs_one_step_per_node_signals_it_and_leaves_no_step_after_stop(
    allocation_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in allocation_env.items():  # as if the launcher were salloc's command
        monkeypatch.setenv(key, value)
    overrides = ["placement.processes=2", "security.curve=false"]  # no coordinator here: the nodes wait
    spec = load_topology(EXAMPLES / "fedasync.toml", overrides)
    run_dir = tmp_path / "run-label"
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "topology.json").write_text(spec.model_dump_json(), encoding="utf-8")
    backend = SlurmBackend(hosts_file(allocation_env["SLURM_JOB_NODELIST"]))
    [host] = backend.hosts()
    launches = [
        NodeLaunch(
            node, host, run_dir / "topology.json", "tcp://127.0.0.1:9", "tcp://127.0.0.1:*", None, "run-label"
        )
        for node in ("node-0", "node-1")
    ]
    lines: list[str] = []
    nodes: list[NodeProcess] = []
    try:
        for launch in launches:
            nodes.append(await backend.start(launch, run_dir / "logs", lines.append))
        async with asyncio.timeout(120):  # each node imports torch and builds its data split first
            await asyncio.gather(*(started_or_exited(n) for n in nodes))
        listed = squeue_steps(allocation_env)
        alive_before = [n.alive for n in nodes]

        await backend.signal(nodes[1], signal.SIGTERM)
        async with asyncio.timeout(60):
            await nodes[1].proc.wait()
        await backend.stop(nodes, grace_s=5.0)
    finally:
        await backend.stop(nodes, grace_s=1.0)

    assert host.name == allocation_env["SLURM_JOB_NODELIST"]
    assert set(listed) >= {"run-label.node-0", "run-label.node-1"}
    assert alive_before == [True, True], "\n".join(lines)
    assert backend.step_ids["node-1"] == listed["run-label.node-1"]  # signalled through scancel
    assert all(n.remote_pid is not None for n in nodes)
    assert not {"run-label.node-0", "run-label.node-1"} & set(squeue_steps(allocation_env))
    assert all(n.proc.returncode is not None for n in nodes)


def this_host_slurm_hosts_file(tmp_path: Path) -> Path:
    """A Slurm hosts file whose launcher and only host are this machine (the one-host cluster)."""
    host = socket.gethostname().split(".")[0]
    hosts = tmp_path / "hosts.toml"
    hosts.write_text(
        f'backend = "slurm"\n[launcher]\nadvertise = "{host}"\n[hosts.{host}]\n', encoding="utf-8"
    )
    return hosts


@needs_slurm
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_real_slurm_fedasync_run_under_salloc_reaches_90_percent_on_three_steps(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    hosts = this_host_slurm_hosts_file(tmp_path)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "launcher.cli", "launch", str(EXAMPLES / "fedasync.toml")]
    command += ["--hosts", str(hosts), "--out", str(out), "--set", "security.curve=false"]

    result = subprocess.run(
        ["salloc", "-N1", "-n3", "--overcommit", "--job-name=fedactors-e2e", *command],
        env=cluster,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=360,
    )

    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finish_reason"] == "target_accuracy"
    assert summary["final_accuracy"] >= 0.9
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert {e["node"] for e in events} >= {"node-0", "node-1", "node-2"}  # SLURM_TASKS_PER_NODE=3
    assert "run started: 3 node processes on 1 host(s)" in result.stderr
    assert processes_mentioning(str(out.resolve())) == []


@needs_slurm
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_real_slurm_ctrl_c_on_the_launcher_stops_every_step_and_exits_130(
    cluster: dict[str, str], tmp_path: Path
) -> None:
    hosts = this_host_slurm_hosts_file(tmp_path)
    out = tmp_path / "run"
    command = [sys.executable, "-m", "launcher.cli", "launch", str(EXAMPLES / "fedasync.toml")]
    command += [
        "--hosts",
        str(hosts),
        "--out",
        str(out),
        "--set",
        "security.curve=false",
        "--set",
        "stop.target_accuracy=1.0",
    ]
    salloc = subprocess.Popen(
        ["salloc", "-N1", "-n3", "--overcommit", "--job-name=fedactors-ctrl-c", *command],
        env=cluster,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    seen: list[str] = []
    try:
        assert salloc.stderr is not None
        wait_for_line(salloc.stderr, "run started", 240, seen)
        [launcher] = [p for p in processes_mentioning(str(out)) if _is_launcher(p)]

        os.kill(launcher, signal.SIGINT)
        _, rest = salloc.communicate(timeout=120)
    finally:
        if salloc.poll() is None:
            salloc.kill()
        salloc.wait()

    output = "\n".join([*seen, rest.decode(errors="replace")])
    assert salloc.returncode == 130, output
    assert "interrupted: stopping every node" in output
    assert processes_mentioning(str(out.resolve())) == []


def _is_launcher(pid: int) -> bool:
    """The `fedactors launch` process (not salloc, srun, or a node)."""
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return b"launch" in argv and argv[0] != b"salloc" and b"node" not in argv
