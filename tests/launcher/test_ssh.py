"""`fedactors launch` over SSH: real sshd hosts in network namespaces, real node processes."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.backends.base import NodeLaunch
from launcher.backends.ssh import SshBackend, remote_node_command, ssh_command
from launcher.hosts import HostSpec, parse_hosts
from launcher.testing import SshLab, processes_mentioning, wait_until
from tests.launcher.test_run import fedactors
from topologies.load import load_topology

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "topologies" / "examples"
HOSTS = ["alpha", "beta", "gamma"]
PID_LINE = re.compile(r"^\[(\w+)/(node-\d+)\] started \(pid (\d+)\)$")
RUN_TIMEOUT_S = 200.0
PLAINTEXT = "curve = false  # plaintext: key distribution is test_keys.py's subject"


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshLab]:
    reason = SshLab.missing()
    if reason is not None:
        pytest.skip(f"SSH lab unavailable: {reason}")
    with SshLab.start(tmp_path_factory.mktemp("sshlab"), HOSTS) as lab:
        yield lab


def star_file(tmp_path: Path, clients: int = 8, **changes: str) -> Path:
    """The FedAsync example, smaller: `clients` clients, IID digits, lost tasks re-issued after 5 s."""
    text = (EXAMPLES / "fedasync.toml").read_text()
    text = text.replace("clients = 20", f"clients = {clients}")
    text = text.replace('{ kind = "dirichlet", alpha = 0.5 }', '{ kind = "iid" }')
    text = text.replace("eval_every = 10", "eval_every = 10\ntask_timeout_s = 5.0")
    text += f"\n[security]\n{PLAINTEXT}\n"
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "star.toml"
    path.write_text(text)
    return path


def hosts_file(lab: SshLab, tmp_path: Path) -> Path:
    path = tmp_path / "hosts.toml"
    path.write_text(lab.hosts_toml(python=sys.executable, workdir=ROOT))
    return path


class Launcher:
    """`fedactors launch` as a child process whose stderr lines are collected by a thread."""

    def __init__(self, *args: str) -> None:
        command = [sys.executable, "-m", "launcher.cli", "launch", *args]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_line(self, pattern: str, timeout_s: float = RUN_TIMEOUT_S) -> str:
        def found() -> str | None:
            if self.proc.poll() is not None and not self.reader.is_alive():
                raise AssertionError(f"launcher exited ({self.proc.returncode}):\n" + "\n".join(self.lines))
            return next((line for line in self.lines if re.search(pattern, line)), None)

        return wait_until(found, timeout_s, f"a launcher line matching {pattern!r}")

    def remote_pids(self) -> dict[str, tuple[str, int]]:
        """node id -> (host, pid where it runs), from the nodes' first lines."""
        matches = (PID_LINE.match(line) for line in self.lines)
        return {m[2]: (m[1], int(m[3])) for m in matches if m}

    def finish(self, timeout_s: float = RUN_TIMEOUT_S) -> int:
        self.proc.wait(timeout=timeout_s)
        self.reader.join(timeout=10)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.reader.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def events(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "events.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.endswith("}")]


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes over ssh; the 2-core CI machine may be busy
def test_a_star_fedasync_run_over_three_ssh_hosts_over_curve_reaches_90_percent(
    lab: SshLab, tmp_path: Path
) -> None:
    keys = tmp_path / "keys"
    curve_defaults = {PLAINTEXT: f'keys_dir = "{keys}"  # curve "auto", a key pair per node: the defaults'}
    out = tmp_path / "run"
    launcher = Launcher(
        str(star_file(tmp_path, **curve_defaults)),
        "--hosts",
        str(hosts_file(lab, tmp_path)),
        "--out",
        str(out),
    )

    try:
        code = launcher.finish()
    finally:
        launcher.close()

    log = "\n".join(launcher.lines)
    assert code == 0, log
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finish_reason"] == "target_accuracy"
    assert summary["final_accuracy"] >= 0.9
    assert {host for host, _ in launcher.remote_pids().values()} == set(HOSTS)  # logs prefixed host/node
    assert {e["node"] for e in events(out)} >= {"node-0", "node-1", "node-2"}
    assert json.loads((out / "topology.json").read_text())["placement"]["hosts"] == {
        "node-0": "alpha",
        "node-1": "beta",
        "node-2": "gamma",
    }
    assert (out / "hosts.toml").exists()
    assert not processes_mentioning(str(out.resolve()))
    assert json.loads((out / "topology.json").read_text())["security"]["curve"] is True
    assert_each_host_got_only_its_own_secret(keys, ["node-0", "node-1", "node-2"])


def assert_each_host_got_only_its_own_secret(keys: Path, nodes: list[str]) -> None:
    """The launcher made a pair per node; node N's host got N's secret and every public key, privately."""
    publics = sorted(p.name for p in keys.glob("*.key"))
    assert publics == [f"{n}.key" for n in ["launcher", *nodes]]
    for node in nodes:
        shipped = keys / "nodes" / node
        assert sorted(p.name for p in shipped.iterdir()) == sorted([*publics, f"{node}.key_secret"])
        assert stat.S_IMODE(shipped.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in shipped.iterdir()} == {0o600}


def hierarchy_file(tmp_path: Path) -> Path:
    """The HierFAVG example, smaller: 1 server, 2 schedulers, 8 clients, 20 rounds."""
    text = (EXAMPLES / "hierarchy.toml").read_text()
    for old, new in {
        "levels = [1, 4, 40]": "levels = [1, 2, 8]",
        "min_clients = 4": "min_clients = 2",
        "target_accuracy = 0.92": "target_accuracy = 1.0",
        "max_rounds = 100": "max_rounds = 20",
    }.items():
        assert old in text
        text = text.replace(old, new)
    text += "\n[security]\ncurve = false  # plaintext: key distribution is test_keys.py's subject\n"
    path = tmp_path / "hierarchy.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes over ssh; the 2-core CI machine may be busy
def test_a_hierarchy_over_three_ssh_hosts_reaches_exactly_what_it_reaches_locally(
    lab: SshLab, tmp_path: Path
) -> None:
    topology = hierarchy_file(tmp_path)
    local = fedactors("run", str(topology), "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    out = tmp_path / "ssh"
    launcher = Launcher(str(topology), "--hosts", str(hosts_file(lab, tmp_path)), "--out", str(out))
    try:
        code = launcher.finish()
    finally:
        launcher.close()
    assert code == 0, "\n".join(launcher.lines)
    over_ssh = json.loads((out / "summary.json").read_text())
    at_home = json.loads((tmp_path / "local" / "summary.json").read_text())
    assert over_ssh["versions"] == at_home["versions"] == 20
    # HierFAVG is synchronous and seeded: the same global model, wherever the actors run.
    assert over_ssh["final_accuracy"] == at_home["final_accuracy"] >= 0.85
    plan = json.loads((out / "topology.json").read_text())["placement"]
    assert set(plan["hosts"].values()) == set(HOSTS)
    edges = {"sched-0", "sched-1"}
    hosts_of_edges = {plan["hosts"][n] for n, actors in plan["nodes"].items() if edges & set(actors)}
    assert hosts_of_edges <= {"beta", "gamma"}  # schedulers sit with their groups, not with the server
    assert not processes_mentioning(str(out.resolve()))


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes over ssh; the 2-core CI machine may be busy
def test_a_client_node_killed_mid_run_is_reported_and_the_async_run_completes(
    lab: SshLab, tmp_path: Path
) -> None:
    # a fixed length, so that the run is surely still going when the kill lands soon after the first
    # evaluation (version 10): the second ssh call takes well under the ~140 versions left
    fixed = {"target_accuracy = 0.9": "target_accuracy = 1.0", "max_versions = 2000": "max_versions = 150"}
    out = tmp_path / "run"
    hosts = hosts_file(lab, tmp_path)
    launcher = Launcher(str(star_file(tmp_path, **fixed)), "--hosts", str(hosts), "--out", str(out))

    try:
        launcher.wait_line(r"^run started")
        wait_until(
            lambda: any(e["event"] == "evaluated" for e in events(out)), RUN_TIMEOUT_S, "an evaluation"
        )
        host, pid = launcher.remote_pids()["node-2"]
        spec = parse_hosts(hosts.read_text()).resolved()[HOSTS.index(host)]
        subprocess.run(ssh_command(spec, f"kill -s KILL {pid}"), check=True, timeout=30)
        code = launcher.finish()
    finally:
        launcher.close()

    log = "\n".join(launcher.lines)
    assert code == 3, log  # EXIT_DEGRADED: finished without a node
    assert "node 'node-2' on gamma exited" in log
    assert "the run goes on without it" in log
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finish_reason"] == "max_versions"
    assert summary["final_accuracy"] >= 0.9
    assert not processes_mentioning(str(out.resolve()))


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes over ssh; the 2-core CI machine may be busy
def test_ctrl_c_over_ssh_leaves_no_fedactors_process_on_any_host(lab: SshLab, tmp_path: Path) -> None:
    never = {
        "target_accuracy = 0.9": "target_accuracy = 1.0",
        "max_versions = 2000": "max_versions = 1000000",
    }
    out = tmp_path / "run"
    label = str(out.resolve())
    launcher = Launcher(
        str(star_file(tmp_path, **never)), "--hosts", str(hosts_file(lab, tmp_path)), "--out", str(out)
    )

    try:
        launcher.wait_line(r"^run started")
        remote = launcher.remote_pids()
        assert set(remote) == {"node-0", "node-1", "node-2"}
        assert {pid for _, pid in remote.values()} <= set(processes_mentioning(label))
        launcher.proc.send_signal(signal.SIGINT)
        code = launcher.finish(timeout_s=60)
    finally:
        launcher.close()

    assert code == 130, "\n".join(launcher.lines)
    assert not processes_mentioning(label)
    assert json.loads((out / "summary.json").read_text())["finish_reason"] == "interrupted"


@pytest.mark.slow
@pytest.mark.timeout(300)  # real processes over ssh; the 2-core CI machine may be busy
def test_a_node_that_cannot_start_is_reported_with_its_host_command_and_stderr(
    lab: SshLab, tmp_path: Path
) -> None:
    hosts = tmp_path / "hosts.toml"
    text = lab.hosts_toml(python=sys.executable, workdir=ROOT)
    hosts.write_text(text.replace("[hosts.gamma]\n", '[hosts.gamma]\npython = "/no/such/python"\n'))
    out = tmp_path / "run"
    launcher = Launcher(str(star_file(tmp_path)), "--hosts", str(hosts), "--out", str(out))

    try:
        code = launcher.finish()
    finally:
        launcher.close()

    log = "\n".join(launcher.lines)
    assert code == 4, log  # EXIT_START_FAILED
    assert "node 'node-2' on gamma exited with code 127" in log
    assert "command: ssh -T" in log
    assert "/no/such/python: No such file or directory" in log  # the tail of its stderr
    assert not processes_mentioning(str(out.resolve()))


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_dropped_ssh_connection_stops_the_remote_node(lab: SshLab, tmp_path: Path) -> None:
    hosts = parse_hosts(hosts_file(lab, tmp_path).read_text())
    spec_path = tmp_path / "topology.json"
    spec_path.write_text(load_topology(star_file(tmp_path)).model_dump_json())
    host = hosts.resolved()[1]
    nowhere = f"tcp://{lab.launcher_address}:9"  # nothing listens: the node waits for its coordinator
    launch = NodeLaunch(
        "node-1", host, spec_path, nowhere, "tcp://0.0.0.0:*", host.dial, run_label=str(tmp_path)
    )
    backend = SshBackend(hosts)
    node = await backend.start(launch, tmp_path, lambda line: None)

    try:
        async with asyncio.timeout(60):
            await node.pid_known.wait()
        node.proc.kill()  # the connection drops: no goodbye reaches the node
        await node.proc.wait()
        await asyncio.to_thread(
            wait_until, lambda: not Path(f"/proc/{node.remote_pid}").exists(), 60, "node exit"
        )
    finally:
        await backend.stop([node], grace_s=5)

    assert not processes_mentioning(str(tmp_path))


def test_the_ssh_command_has_no_tty_batch_mode_and_execs_the_node_in_its_workdir(tmp_path: Path) -> None:
    host = HostSpec(
        name="beta", address="10.0.0.3", user="fl", port=2222, identity_file=Path("k"), workdir="/srv/fa"
    )
    launch = NodeLaunch(
        "node-1", host, tmp_path / "t.json", "tcp://10.0.0.1:5000", "tcp://0.0.0.0:*", "10.0.0.3"
    )

    command = ssh_command(host, remote_node_command(launch))

    assert command[:2] == ["ssh", "-T"]
    assert "BatchMode=yes" in command
    assert command[command.index("-p") + 1] == "2222"
    assert command[command.index("-l") + 1] == "fl"
    assert command[-2:-1] == ["10.0.0.3"]
    remote = command[-1]
    assert remote.startswith("cd /srv/fa && exec python3 -m launcher.cli node - --node-id node-1 ")
    assert "--exit-on-stdin-eof --die-with-parent" in remote
    assert "--advertise 10.0.0.3" in remote
