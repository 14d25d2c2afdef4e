"""Attacks on a live `fedactors run`, from a stranger that reaches a node's port (plaintext).

A FedAsync star runs over three node processes. While it trains, a raw
ZeroMQ DEALER with a routing id of its own connects to the server's node and:

1. sends a `Leave` for an actor named with 70,000 characters, and 3,000
   garbage messages (these once froze the node: a log line the launcher
   could not read, then a full stderr pipe);
2. poses as a relay: `Relayed(child, Join)` from `evil-relay` (a star has none);
3. poses as a client placed on another node: an `Update` as that client;
4. floods 150,000 distinct 200-character sender names and 400 messages
   with 1 MB names.

The run must still finish on time with its summary written, every attack be
refused with its own reason, the real client keep its task, and the server
node's memory stay within a fixed bound.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import msgpack
import pytest
import torch
import zmq

from actors.codec import decode, encode
from actors.messages import Envelope, Heartbeat, Message
from actors.protocol import Join, Leave, Relayed, Update
from launcher.testing import wait_until
from topologies.load import load_topology
from topologies.placement import plan_processes

ROOT = Path(__file__).resolve().parents[2]
MAX_TIME_S = 75  # the run's only limit: it must end then, whatever the attacker does
STORM = 150_000
RSS_BOUND_MB = 120  # growth of the server node allowed by the whole storm (the tables: ~8 MB)
TOPOLOGY = f"""
name = "attacked"
seed = 0
[graph]
template = "star"
clients = 6
[server]
algorithm = "fedasync"
alpha = 0.6
eval_every = 5
[client]
epochs = 1
batch_size = 32
lr = 0.05
[model]
kind = "mlp"
hidden = [16]
[data]
kind = "digits"
[stop]
max_time_s = {MAX_TIME_S}
[placement]
processes = 3
"""


def listening_port(pid: int) -> int | None:
    """The TCP port process `pid` listens on (its one ROUTER socket), once it does."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                return int(fields[1].rsplit(":", 1)[1], 16)
    return None


def node_pid(out: Path, node_id: str) -> int | None:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"node" in cmdline and str(out).encode() in b" ".join(cmdline) and node_id.encode() in cmdline:
                return int(entry.name)
    return None


def events_bytes(out: Path) -> bytes:
    path = out / "events.jsonl"
    return path.read_bytes() if path.exists() else b""


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


class Attacker:
    """A DEALER that speaks the wire format with any sender name it likes."""

    def __init__(self, port: int) -> None:
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, b"evil-node")
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(f"tcp://127.0.0.1:{port}")
        self.received: list[Envelope] = []
        self._asks = 0

    def send(self, sender: str, receiver: str, body: Message, corr_id: int = 0) -> None:
        self.sock.send_multipart(encode(Envelope(sender, receiver, body, corr_id)), copy=False)

    def send_raw(self, frames: list[bytes]) -> None:
        self.sock.send_multipart(frames)

    def barrier(self) -> None:
        """Wait until the node took everything sent so far: it answers an ask to nobody
        (`ActorNotFoundError`) after every message before it."""
        self._asks += 1
        self.send("evil", "nobody", Leave(), corr_id=self._asks)
        while True:
            assert self.sock.poll(60_000), "the node stopped answering"
            reply = decode(self.sock.recv_multipart())
            self.received.append(reply)
            if reply.corr_id == self._asks and reply.is_reply:
                return

    def drain(self) -> list[str]:
        while self.sock.poll(0):
            self.received.append(decode(self.sock.recv_multipart()))
        return [e.body.kind for e in self.received]

    def close(self) -> None:
        self.sock.close()
        self.ctx.term()


@contextmanager
def attacked_run(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path, int, int]]:
    file = tmp_path / "attacked.toml"
    file.write_text(TOPOLOGY)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "launcher.cli", "run", str(file), "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid = wait_until(lambda: node_pid(out, "node-0"), 120, "the server's node process")
        port = wait_until(lambda: listening_port(pid), 120, "the server's node to bind")
        wait_until(lambda: b"update_applied" in events_bytes(out), 120, "training")
        yield proc, out, pid, port
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


def a_client_on_another_node(file: Path) -> str:
    spec = load_topology(file)
    plans = plan_processes(spec, spec.graph.build())
    return next(a for p in plans if p.node_id != "node-0" for a in p.actors if a.startswith("client"))


@pytest.mark.slow
@pytest.mark.timeout(400)  # real processes on a busy 2-core machine; every wait ends on an event
def test_a_live_run_refuses_every_attack_and_still_finishes_on_time(tmp_path: Path) -> None:
    with attacked_run(tmp_path) as (proc, out, server_pid, port):
        attacker = Attacker(port)
        victim = a_client_on_another_node(tmp_path / "attacked.toml")
        rss_before = rss_mb(server_pid)

        attacker.send("evil", "x" * 70_000, Leave("bye"))
        for i in range(3_000):
            attacker.send_raw([bytes([i % 256])])
        attacker.send("evil-relay", "server", Relayed("client-001", Join(999)))
        weights = {"0.weight": torch.zeros(16, 64), "0.bias": torch.zeros(16)}
        attacker.send(victim, "server", Update(1, 0, weights, False, 50, 0.1, 0.1))
        attacker.barrier()
        for i in range(STORM):
            body = Heartbeat() if i % 2 else Leave()
            attacker.send(f"{i:08d}".ljust(200, "s"), "server", body)
            if i % 10_000 == 0:
                attacker.barrier()
        for i in range(400):
            header = msgpack.packb([1, "fl.leave", f"{i}".ljust(1 << 20, "m"), "server", 0, 0, {}])
            attacker.send_raw([header])
            if i % 25 == 0:
                attacker.barrier()
        attacker.barrier()
        rss_after = rss_mb(server_pid)

        code = proc.wait(timeout=MAX_TIME_S + 120)
        kinds = attacker.drain()
        attacker.close()

    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"]
    assert summary["finish_reason"] == "max_time_s"
    assert summary["wall_time_s"] < MAX_TIME_S + 15
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    dropped = [(e["client"], e["reason"]) for e in events if e["event"] == "update_dropped"]
    assert dropped == [("client-001", "unknown_relay")]  # the hijack; the forged update never reached it
    assert not [e for e in events if e["event"] == "client_lost"]  # client-001 kept its task
    assert {e["client"] for e in events if e["event"] == "update_applied"} >= {"client-001", victim}
    assert set(kinds) == {"failure"}  # answers to its own barriers only: no task, no model
    log = (out / "logs" / "node-0.log").read_text()
    assert f"sender={victim}" in log
    assert "reason='sender not on its node'" in log
    assert "x" * 121 not in log
    assert "70000" in log
    assert "identity_evicted" in log
    assert "count=131072" in log
    assert rss_after - rss_before < RSS_BOUND_MB, (rss_before, rss_after)
