"""Test helpers: wait for a condition, and a lab of real `sshd` hosts in network namespaces.

    with SshLab.start(tmp_dir, ["alpha", "beta", "gamma"]) as lab:
        (tmp_dir / "hosts.toml").write_text(lab.hosts_toml(python=sys.executable, workdir=root))
        ...                                   # fedactors launch FILE --hosts tmp_dir/hosts.toml

Each host is a network namespace with its own address on a private bridge
and one `sshd` listening on it; the launcher stays in the root namespace and
reaches them through the bridge. Where namespaces are not allowed (an
unprivileged container), each host is an `sshd` on 127.0.0.1 with a port of
its own instead. Host keys and a user key pair are made in the lab's
directory; everything is torn down on exit, even after a failure. Needs root,
`ip`, `sshd`, `ssh` and `ssh-keygen` (`SshLab.missing()` says which are not there).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
POLL_INTERVAL_S = 0.05
SSHD_READY_TIMEOUT_S = 20.0
SSHD = "/usr/sbin/sshd"


def wait_until(condition: Callable[[], T], timeout_s: float, what: str) -> T:
    """Poll `condition` until it returns something truthy, and return that.

    Raises:
        TimeoutError: it stayed falsy for `timeout_s`; the message says `what` was awaited.
    """
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s} s waiting for {what}")
        pause.wait(POLL_INTERVAL_S)


def processes_mentioning(text: str) -> list[int]:
    """PIDs of live processes (in any network namespace) whose command line contains `text`."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if text in cmdline:
                pids.append(int(entry.name))
    return pids


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=30)


@dataclass
class SshLab:
    """Hosts that run their own `sshd` (see the module docstring).

    Attributes:
        root: the directory holding keys, configs and sshd logs.
        netns: hosts are network namespaces; False: every sshd listens on
            127.0.0.1 with a port of its own (where namespaces are not allowed,
            e.g. an unprivileged container).
        addresses: host name -> (address, sshd port).
        launcher_address: where the launcher binds (the bridge's address, or 127.0.0.1).
    """

    root: Path
    tag: str
    netns: bool
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)
    launcher_address: str = "127.0.0.1"
    sshds: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @staticmethod
    def missing() -> str | None:
        """Why a lab cannot run here (not root, a binary missing), or None."""
        if os.geteuid() != 0:
            return "needs root (sshd logins as root, network namespaces)"
        absent = [b for b in ("ip", "ssh", "ssh-keygen") if shutil.which(b) is None]
        absent += [] if Path(SSHD).exists() else ["sshd"]
        if absent:
            return f"needs {', '.join(absent)} (apt-get install openssh-server openssh-client iproute2)"
        return None

    @staticmethod
    def namespaces_work() -> bool:
        """Whether this process may create network namespaces (root in a privileged context)."""
        probe = f"faprobe{os.getpid() % 100000}"
        made = subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode == 0
        if made:
            subprocess.run(["ip", "netns", "del", probe], capture_output=True)
        return made

    @classmethod
    @contextlib.contextmanager
    def start(cls, root: Path, hosts: list[str]) -> Iterator[SshLab]:
        """Make keys and one sshd per host (in namespaces when allowed); remove everything on exit."""
        pid = os.getpid()
        lab = cls(root, f"{pid % 100000}", cls.namespaces_work())
        subnet = f"10.{200 + pid % 50}.{pid % 250}"
        try:
            lab._make_keys()
            if lab.netns:
                lab.launcher_address = f"{subnet}.1"
                lab._make_bridge()
            for index, name in enumerate(hosts):
                lab.addresses[name] = (
                    (f"{subnet}.{10 + index}", 22) if lab.netns else ("127.0.0.1", _free_port())
                )
                lab._make_host(index, name)
            for name in hosts:
                wait_until(functools.partial(lab._accepts, name), SSHD_READY_TIMEOUT_S, f"sshd on {name}")
            yield lab
        finally:
            lab._teardown(len(hosts))

    def hosts_toml(self, python: str, workdir: Path, processes_per_host: int = 1, extra: str = "") -> str:
        """A hosts file for `fedactors launch` that reaches every lab host as root with the lab's key."""
        hosts = "".join(
            f'[hosts.{n}]\naddress = "{a}"\nport = {port}\nbind = "{a}"\n'
            for n, (a, port) in self.addresses.items()
        )
        return (
            f'backend = "ssh"\n[launcher]\nbind = "{self.launcher_address}"\n'
            f'[defaults]\nuser = "root"\nidentity_file = "{self.root / "user_key"}"\n'
            f'python = "{python}"\nworkdir = "{workdir}"\n'
            f'ssh_options = ["StrictHostKeyChecking=no", "UserKnownHostsFile={self.root / "known_hosts"}", '
            f'"LogLevel=ERROR"]\n{hosts}[placement]\nprocesses_per_host = {processes_per_host}\n{extra}'
        )

    def namespace(self, index: int) -> str:
        return f"fa{self.tag}n{index}"

    def _make_keys(self) -> None:
        for key in ("host_key", "user_key"):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.root / key))
        shutil.copyfile(self.root / "user_key.pub", self.root / "authorized_keys")
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation directory

    def _make_bridge(self) -> None:
        bridge = f"fa{self.tag}br"
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.launcher_address}/24", "dev", bridge)
        _run("ip", "link", "set", bridge, "up")

    def _make_namespace(self, index: int, address: str) -> list[str]:
        """The namespace of host `index` on the bridge; the prefix that runs a command in it."""
        ns, outer, inner = self.namespace(index), f"fa{self.tag}h{index}", f"fa{self.tag}v{index}"
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        _run("ip", "link", "set", inner, "netns", ns)
        _run("ip", "link", "set", outer, "master", f"fa{self.tag}br", "up")
        _run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", inner)
        _run("ip", "-n", ns, "link", "set", inner, "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        return ["ip", "netns", "exec", ns]

    def _make_host(self, index: int, name: str) -> None:
        address, port = self.addresses[name]
        prefix = self._make_namespace(index, address) if self.netns else []
        config = self.root / f"sshd_{name}.conf"
        config.write_text(
            f"ListenAddress {address}\nPort {port}\nHostKey {self.root / 'host_key'}\n"
            f"AuthorizedKeysFile {self.root / 'authorized_keys'}\nPermitRootLogin prohibit-password\n"
            "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
            "UseDNS no\nPidFile none\nLogLevel ERROR\n"
        )
        command = [*prefix, SSHD, "-D", "-e", "-f", str(config)]
        with (self.root / f"sshd_{name}.log").open("wb") as log:  # the child keeps its own copy
            self.sshds.append(subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL))

    def _accepts(self, name: str) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(self.addresses[name], timeout=1):
            return True
        return False

    def _teardown(self, hosts: int) -> None:
        for sshd in self.sshds:
            sshd.kill()
            sshd.wait(timeout=10)
        if not self.netns:
            return
        for index in range(hosts):
            ns = self.namespace(index)
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
            for pid in pids:  # anything a failed test left behind in the namespace
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), 9)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", f"fa{self.tag}br"], capture_output=True)


def _free_port() -> int:
    """A TCP port free on 127.0.0.1 now (sshd cannot bind an ephemeral one and report it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
