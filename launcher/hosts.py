"""The hosts file: the machines a run is launched on, how to reach them, and what goes where.

    backend = "ssh"                      # local | ssh | slurm
    [launcher]
    advertise = "10.0.0.1"               # the address nodes dial to reach the launcher
    [defaults]                           # every host inherits these
    user = "fl"
    python = "/srv/fedactors/.venv/bin/python"
    workdir = "/srv/fedactors"
    [hosts.alpha]
    address = "10.0.0.2"
    [hosts.beta]
    address = "10.0.0.3"
    advertise = "203.0.113.7"            # behind NAT: peers dial this
    processes = 3
    [placement]
    processes_per_host = 2
    pins = { server = "alpha", "group:edge-1" = "beta" }

It is kept apart from the topology file because the same experiment runs on
different machines. Every table rejects unknown keys, and a bad file is
refused, naming the field and its line, before any process starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from launcher.errors import LauncherError
from topologies.limits import MAX_PROCESSES
from topologies.load import Problem, describe_problems, parse_toml, read_text_file, validate_model


class HostsFileError(LauncherError):
    """The hosts file cannot be read, is malformed, or does not fit the topology.

    Attributes:
        source: the file's path.
        problems: every problem found, in file order where lines are known.
    """

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(describe_problems(source, problems))

    @property
    def fields(self) -> list[str]:
        """The dotted fields at fault."""
        return [p.field for p in self.problems]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HostSettings(_Spec):
    """What a host inherits from `[defaults]` and may override.

    Attributes:
        user: the SSH login (default: the SSH client's own default).
        port: the SSH port.
        identity_file: the private key to log in with (`ssh -i`).
        ssh_options: extra `-o` options, e.g. `["StrictHostKeyChecking=no"]`.
        python: the remote Python that has fedactors installed.
        workdir: the remote directory to run in (the checkout, so `-m launcher.cli` imports).
        env: environment variables set for the remote node.
        bind: the interface a node binds (its port is always ephemeral).
        processes: node processes on this host (default: `placement.processes_per_host`).
    """

    user: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    identity_file: Path | None = None
    ssh_options: list[str] = Field(default_factory=list)
    python: str = "python3"
    workdir: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    bind: str = "0.0.0.0"
    processes: int | None = Field(default=None, ge=1, le=MAX_PROCESSES)


class HostEntry(HostSettings):
    """One `[hosts.NAME]` table.

    Attributes:
        address: what `ssh` dials (default: the table's name).
        advertise: the address other nodes dial to reach this host's nodes
            (NAT, several interfaces; default: `address`).
    """

    address: str | None = None
    advertise: str | None = None


class HostSpec(HostEntry):
    """A host with its defaults applied: what backends read.

    Attributes:
        name: the table's name, used in pins, logs and the plan.
    """

    name: str

    @property
    def target(self) -> str:
        """What `ssh` dials."""
        return self.address or self.name

    @property
    def dial(self) -> str:
        """The address peers dial to reach a node on this host."""
        return self.advertise or self.target


class LauncherSpec(_Spec):
    """Where the launcher's coordinator listens.

    Attributes:
        bind: the interface it binds (ephemeral port).
        advertise: the address nodes dial (default: `bind`, which must then not be 0.0.0.0).
    """

    bind: str = "0.0.0.0"
    advertise: str | None = None

    @property
    def dial(self) -> str:
        return self.advertise or self.bind


class HostPlacementSpec(_Spec):
    """Packing rules and pins.

    Attributes:
        processes_per_host: node processes per host unless the host says otherwise.
        pins: actor id, or `group:<scheduler id>` (the scheduler and everything
            under it), -> host name.
    """

    processes_per_host: int = Field(default=1, ge=1, le=MAX_PROCESSES)
    pins: dict[str, str] = Field(default_factory=dict)


class HostsSpec(_Spec):
    """A whole hosts file."""

    backend: Literal["local", "ssh", "slurm"] = "ssh"
    launcher: LauncherSpec = Field(default_factory=LauncherSpec)
    defaults: HostSettings = Field(default_factory=HostSettings)
    hosts: dict[str, HostEntry] = Field(default_factory=dict)  # under slurm: adjustments only
    placement: HostPlacementSpec = Field(default_factory=HostPlacementSpec)
    slurm: dict[str, Any] = Field(default_factory=dict)  # the slurm backend validates its own options

    def resolved(self) -> list[HostSpec]:
        """Every host with `[defaults]` and `processes_per_host` applied, in file order."""
        base = self.defaults.model_dump(exclude_unset=True)
        hosts = []
        for name, entry in self.hosts.items():
            fields = {**base, **entry.model_dump(exclude_unset=True), "name": name}
            fields.setdefault("processes", self.placement.processes_per_host)
            hosts.append(HostSpec.model_validate(fields))
        return hosts


def load_hosts(path: str | Path) -> HostsSpec:
    """Parse and validate the hosts file at `path`.

    Raises:
        HostsFileError: the file is missing, is not TOML, or fails validation
            (each problem names its dotted field and, where found, its line).
    """
    path = Path(path)
    return parse_hosts(read_text_file(path, HostsFileError), str(path))


def parse_hosts(text: str, source: str = "<string>") -> HostsSpec:
    """Validate hosts TOML text (see `load_hosts`); types are strict, as for topology files.

    Raises:
        HostsFileError: as `load_hosts`.
    """
    raw = parse_toml(text, source, HostsFileError)
    try:
        spec = validate_model(HostsSpec, raw, text, source, HostsFileError)
    except HostsFileError as exc:
        problems = [
            Problem(p.field, p.message.replace("docs/topology.md", "docs/launcher.md"), p.line)
            for p in exc.problems
        ]
        raise HostsFileError(source, problems) from None
    _check_names(spec, source, text)
    return spec


def _check_names(spec: HostsSpec, source: str, text: str) -> None:
    """Host names and pinned host names: the checks that need the whole file."""
    problems = []
    for name in spec.hosts:
        if not name or any(c in name for c in "/: "):
            problems.append(
                Problem(f"hosts.{name}", "a host name may not be empty or contain '/', ':' or spaces", None)
            )
    for actor, host in spec.placement.pins.items():
        if host not in spec.hosts:
            known = ", ".join(repr(h) for h in spec.hosts)
            problems.append(
                Problem(
                    f"placement.pins.{actor}",
                    f"names host {host!r}, which is not declared (hosts: {known})",
                    find_line(text, actor),
                )
            )
    if not spec.hosts and spec.backend != "slurm":  # slurm's hosts come from the allocation
        problems.append(Problem("hosts", "declare at least one host: [hosts.NAME]", None))
    if spec.backend == "ssh" and spec.launcher.dial == "0.0.0.0":
        problems.append(
            Problem(
                "launcher.advertise",
                "set the address nodes dial to reach the launcher (bind is 0.0.0.0)",
                None,
            )
        )
    if problems:
        raise HostsFileError(source, problems)


def find_line(text: str, key: str) -> int | None:
    """The first line that mentions `key` quoted or as a bare key (pins are often inline tables)."""
    for number, line in enumerate(text.splitlines(), 1):
        if (
            f'"{key}"' in line
            or line.strip().startswith(f"{key} ")
            or f" {key} =" in line
            or f"{{{key} =" in line
        ):
            return number
    return None
