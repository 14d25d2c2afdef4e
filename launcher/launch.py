"""`fedactors launch`: a run's node processes spread over hosts by a backend.

    fedactors launch topologies/examples/fedasync.toml --hosts hosts.toml --dry-run
    fedactors launch topologies/examples/fedasync.toml --hosts hosts.toml

The plan (host -> node processes -> actors) is computed once, here, from the
topology and the hosts file, and written into the run's `topology.json`
(`placement.nodes`), which every node reads; a hosts file that does not fit
the topology is refused before any process starts. Without `--hosts` the run
goes to local processes, as `fedactors run` does.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from launcher.backends import Backend, NodeLaunch, make_backend
from launcher.hosts import HostsFileError, HostSpec, HostsSpec, find_line, load_hosts
from launcher.keys import make_node_keys, with_security_resolved
from launcher.lifecycle import expendable_nodes
from launcher.rendezvous import LAUNCHER_NODE
from launcher.run import LauncherSite, RunResult, local_bind, prepare_run_dir, run_nodes
from sims.build import build_graph
from topologies.load import Problem
from topologies.placement import HostSlots, NodePlan, PlacementError, plan_hosts
from topologies.spec import RunSpec
from topologies.specs.security import SecuritySpec, resolve_security


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    """Where every node process goes.

    Attributes:
        hosts_spec: the hosts file (or the local default).
        hosts: the hosts, defaults applied, in order.
        plans: the node processes, `node-0` (the server's) first.
        backend: what starts them.
        source: the hosts file's path (None: the local default).
    """

    hosts_spec: HostsSpec
    hosts: list[HostSpec]
    plans: list[NodePlan]
    backend: Backend
    source: Path | None

    def resolved(self, spec: RunSpec) -> RunSpec:
        """`spec` with the plan written into `placement.nodes` and `placement.hosts`."""
        nodes = {p.node_id: list(p.actors) for p in self.plans}
        hosts = {p.node_id: p.host for p in self.plans}
        placement = spec.placement.model_copy(update={"nodes": nodes, "hosts": hosts})
        return spec.model_copy(update={"placement": placement})


def local_hosts(spec: RunSpec) -> HostsSpec:
    """The hosts file `fedactors launch` assumes without `--hosts`: this machine, `placement.processes`."""
    return HostsSpec(backend="local", hosts={"localhost": {"processes": spec.placement.processes}})


def plan_launch(spec: RunSpec, hosts_path: Path | None) -> LaunchPlan:
    """Read the hosts file (if any) and place the run's actors on its hosts.

    Raises:
        HostsFileError: the file is malformed, or a pin names an unknown host, actor or group.
    """
    hosts_spec = local_hosts(spec) if hosts_path is None else load_hosts(hosts_path)
    backend = make_backend(hosts_spec)
    hosts = backend.hosts()
    slots = [HostSlots(h.name, h.processes or hosts_spec.placement.processes_per_host) for h in hosts]
    try:
        plans = plan_hosts(build_graph(spec), slots, hosts_spec.placement.pins)
    except PlacementError as exc:
        source = str(hosts_path)
        text = hosts_path.read_text(encoding="utf-8") if hosts_path else ""
        message = str(exc).removeprefix(f"{exc.field}: ")
        key = exc.field.removeprefix("placement.pins.")
        raise HostsFileError(source, [Problem(exc.field, message, find_line(text, key))]) from exc
    return LaunchPlan(hosts_spec, hosts, plans, backend, hosts_path)


def format_plan(spec: RunSpec, plan: LaunchPlan) -> str:
    """The plan for `--dry-run`: host -> node processes -> actors."""
    actors = sum(len(p.actors) for p in plan.plans)
    used = [h for h in plan.hosts if any(p.host == h.name for p in plan.plans)]
    lines = [
        f"{spec.name}: {actors} actors in {len(plan.plans)} node processes on {len(used)} hosts "
        f"(backend {plan.backend.name})"
    ]
    security = resolve_security(spec.security, all_hosts_local=plan.backend.name == "local")
    lines.append(security_line(security))
    for host in used:
        where = f"{host.user + '@' if host.user else ''}{host.target}:{host.port}"
        lines.append(f"{host.name} ({where})" if plan.backend.name == "ssh" else host.name)
        for node in (p for p in plan.plans if p.host == host.name):
            key = f" [key {security.key_of(node.node_id)}]" if security.curve else ""
            lines.append(f"  {node.node_id}: {compact(node.actors)}{key}")
    return "\n".join(lines)


def security_line(security: SecuritySpec) -> str:
    """How every link of the run is secured, for `--dry-run`."""
    if not security.curve:
        return "security: plaintext on every link (CURVE off)"
    keys = f"{security.keys_dir}/"
    if security.key is not None:
        return f"security: CURVE on every link; every node shares the pair {keys}{security.key}"
    return (
        f"security: CURVE on every link; a key pair per node in {keys} "
        f"(launcher: {security.key_of(LAUNCHER_NODE)}), missing ones made at launch; "
        "each host gets only its node's secret"
    )


def compact(actors: tuple[str, ...]) -> str:
    """`server, client-000..client-009 (10)`: runs of consecutive numbered ids shortened."""
    parts = []
    matches = [(re.fullmatch(r"(.*?)(\d+)", a), a) for a in actors]
    numbered = [(m.group(1), m.group(2), a) if m else (a, "", a) for m, a in matches]
    keyed = [(prefix, int(num) - i if num else None, a) for i, (prefix, num, a) in enumerate(numbered)]
    for _, run in groupby(keyed, key=lambda k: (k[0], k[1])):
        ids = [a for _, _, a in run]
        parts.append(ids[0] if len(ids) == 1 else f"{ids[0]}..{ids[-1]} ({len(ids)})")
    return ", ".join(parts)


async def launch_run(spec: RunSpec, source: Path, run_dir: Path, plan: LaunchPlan) -> RunResult:
    """Run `spec` over the plan's hosts (see the module docstring)."""
    resolved, site = prepare_launch(spec, source, run_dir, plan)
    expendable = expendable_nodes(resolved, build_graph(resolved), plan.plans)
    return await run_nodes(resolved, run_dir, plan.backend, plan.plans, site, expendable)


def prepare_launch(
    spec: RunSpec, source: Path, run_dir: Path, plan: LaunchPlan
) -> tuple[RunSpec, LauncherSite]:
    """Write the run directory (with the resolved plan and the hosts file); where the launcher listens."""
    local = plan.backend.name == "local"
    resolved = plan.resolved(with_security_resolved(spec, all_hosts_local=local))
    resolved = prepare_run_dir(resolved, source, run_dir)  # with the checkpoint directory resolved
    make_node_keys(resolved.security, [LAUNCHER_NODE, *(p.node_id for p in plan.plans)])
    if plan.source is not None:
        shutil.copyfile(plan.source, run_dir / "hosts.toml")
    by_name = {h.name: h for h in plan.hosts}
    label = str(run_dir.resolve())

    def launch_for(node: NodePlan, coordinator: str) -> NodeLaunch:
        host = by_name[node.host]
        bind = local_bind(spec, run_dir, node.node_id) if local else f"tcp://{host.bind}:*"
        advertise = None if local else host.dial
        spec_path = run_dir / "topology.json"
        return NodeLaunch(node.node_id, host, spec_path, coordinator, bind, advertise, run_label=label)

    launcher = plan.hosts_spec.launcher
    bind = local_bind(spec, run_dir, LAUNCHER_NODE) if local else f"tcp://{launcher.bind}:*"
    return resolved, LauncherSite(bind, None if local else plan.backend.launcher_dial(), launch_for)
