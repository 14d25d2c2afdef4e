"""The Slurm allocation a launcher runs inside, read from its `SLURM_*` environment.

`salloc` and `sbatch` describe the allocation in environment variables; the
ones read here are

| variable | example | read as |
|---|---|---|
| `SLURM_JOB_ID` (or `SLURM_JOBID`) | `4242` | the job the steps go into (required) |
| `SLURM_JOB_NODELIST` (or `SLURM_NODELIST`) | `node[01-03,07],login5` | the hosts, in order (required) |
| `SLURM_TASKS_PER_NODE` | `2(x3),1` | tasks on each host (default 1 each) |
| `SLURM_JOB_CPUS_PER_NODE` | `36(x2),72` | CPUs on each host |
| `SLURM_CPUS_ON_NODE` | `36` | CPUs on the host the launcher runs on |
| `SLURM_SUBMIT_DIR` | `/home/me/fl` | where `salloc`/`sbatch` was typed |
| `SLURM_JOB_NAME` | `fedasync` | the job's name |

Host lists use Slurm's compressed syntax (`hostlist.c`): names separated by
commas; a bracket holds comma-separated numbers and `lo-hi` ranges, zero-padded
to the width of `lo` (`[08-10]` is `08 09 10`, `[8-10]` is `8 9 10`); text may
follow a bracket (`gpu-a[1-2]x`), and several brackets in one name expand as a
product, the first outermost (`rack[1-2]-n[1-2]` is `rack1-n1 rack1-n2 rack2-n1
rack2-n2`). Counts use `N(xR)` for `N` repeated `R` times.

Everything here is pure: it reads a mapping, so a recorded environment tests it.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher.errors import LauncherError

MAX_RANGE_HOSTS = 65_536  # Slurm's own MAX_RANGE: a typo such as [1-10000000] is refused, not expanded
_NAME_PART = re.compile(r"[^\[\],\s]*")
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")
_COUNT = re.compile(r"(\d+)(?:\(x(\d+)\))?")


class SlurmEnvError(LauncherError):
    """A `SLURM_*` variable the launcher needs is missing or cannot be read.

    Attributes:
        variable: the variable at fault (the first one looked for, if none was set).
        value: what it held (None when missing).
        reason: what was expected.
    """

    def __init__(self, variable: str, value: str | None, reason: str) -> None:
        self.variable = variable
        self.value = value
        self.reason = reason
        got = "it is not set" if value is None else f"got {value!r}"
        super().__init__(f"{variable}: {reason}; {got}")


@dataclass(frozen=True, slots=True)
class SlurmAllocation:
    """A Slurm job allocation as its environment describes it.

    Attributes:
        job_id: the job id, as a string (`"4242"`; heterogeneous jobs are not supported).
        hosts: the allocated hosts, in Slurm's order (the first is the batch host).
        tasks_per_host: tasks Slurm planned on each host, parallel to `hosts`.
        cpus_per_host: CPUs allocated on each host, parallel to `hosts`, if known.
        cpus_on_node: CPUs allocated on the launcher's own host, if known.
        submit_dir: where the job was submitted from, if known.
        job_name: the job's name, if known.
    """

    job_id: str
    hosts: tuple[str, ...]
    tasks_per_host: tuple[int, ...]
    cpus_per_host: tuple[int, ...] | None = None
    cpus_on_node: int | None = None
    submit_dir: Path | None = None
    job_name: str | None = None


def expand_hostlist(text: str, variable: str = "hostlist") -> list[str]:
    """The host names of a compressed Slurm host list, in order.

    Raises:
        SlurmEnvError: `text` is empty, has an unbalanced or nested bracket, an
            empty name or range, a range whose `lo` exceeds its `hi`, a range of
            more than `MAX_RANGE_HOSTS` hosts, or names a host twice.
    """
    hosts: list[str] = []
    for item in _split_top_level(text, variable):
        hosts.extend(_expand_name(item, text, variable))
    duplicates = sorted(host for host, count in Counter(hosts).items() if count > 1)
    if duplicates:
        raise SlurmEnvError(variable, text, f"host {duplicates[0]!r} is listed twice")
    return hosts


def _split_top_level(text: str, variable: str) -> list[str]:
    """Split at the commas outside brackets; refuse nested or unbalanced brackets."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
        if depth not in (0, 1):
            what = "nested '['" if depth > 1 else "']' without a matching '['"
            raise SlurmEnvError(variable, text, f"{what} at character {i + 1}")
    if depth:
        raise SlurmEnvError(variable, text, "'[' without a matching ']'")
    items.append(text[start:])
    if any(not item.strip() for item in items):
        raise SlurmEnvError(variable, text, "expected host names separated by commas, found an empty one")
    return [item.strip() for item in items]


def _expand_name(item: str, text: str, variable: str) -> list[str]:
    """`rack[1-2]-n[01-02]` → the product of its brackets, first bracket outermost."""
    parts = re.split(r"\[([^\]]*)\]", item)  # text, bracket, text, bracket, ..., text
    choices: list[list[str]] = []
    for index, part in enumerate(parts):
        if index % 2 == 0:
            if not _NAME_PART.fullmatch(part):
                raise SlurmEnvError(variable, text, f"unexpected character in host name {item!r}")
            choices.append([part])
        else:
            choices.append(_expand_bracket(part, text, variable))
    return ["".join(combination) for combination in itertools.product(*choices)]


def _expand_bracket(body: str, text: str, variable: str) -> list[str]:
    """`01-03,07` → `01 02 03 07`: each range padded to the width of its `lo`."""
    numbers: list[str] = []
    for piece in body.split(","):
        match = _RANGE.fullmatch(piece.strip())
        if match is None:
            raise SlurmEnvError(variable, text, f"expected N or LO-HI inside [{body}], found {piece!r}")
        lo_text, hi_text = match.group(1), match.group(2) or match.group(1)
        lo, hi = int(lo_text), int(hi_text)
        if lo > hi:
            raise SlurmEnvError(variable, text, f"range {piece!r} in [{body}] runs backwards")
        if hi - lo + 1 > MAX_RANGE_HOSTS:
            raise SlurmEnvError(variable, text, f"range {piece!r} has over {MAX_RANGE_HOSTS} hosts")
        numbers.extend(f"{n:0{len(lo_text)}d}" for n in range(lo, hi + 1))
    return numbers


def expand_counts(text: str, variable: str = "counts") -> list[int]:
    """`2(x3),1` → `[2, 2, 2, 1]` (the form of `SLURM_TASKS_PER_NODE` and `SLURM_JOB_CPUS_PER_NODE`).

    Raises:
        SlurmEnvError: an item is not `N` or `N(xR)` with R ≥ 1.
    """
    counts: list[int] = []
    for piece in text.split(","):
        match = _COUNT.fullmatch(piece.strip())
        if match is None or match.group(2) == "0":
            raise SlurmEnvError(variable, text, f"expected N or N(xR) separated by commas, found {piece!r}")
        counts.extend([int(match.group(1))] * int(match.group(2) or 1))
    return counts


def allocation_from_env(env: Mapping[str, str]) -> SlurmAllocation:
    """The allocation described by `env` (pass `os.environ` inside `salloc` or `sbatch`).

    Raises:
        SlurmEnvError: no job id or host list is set (not inside an allocation),
            or a variable is malformed, or a per-host count does not have one
            entry per host.
    """
    job_variable, job_id = _first_set(env, "SLURM_JOB_ID", "SLURM_JOBID")
    if not job_id.isdigit():
        raise SlurmEnvError(
            job_variable, job_id, "expected a job id of digits (heterogeneous jobs unsupported)"
        )
    list_variable, nodelist = _first_set(env, "SLURM_JOB_NODELIST", "SLURM_NODELIST")
    hosts = expand_hostlist(nodelist, list_variable)
    return SlurmAllocation(
        job_id=job_id,
        hosts=tuple(hosts),
        tasks_per_host=_per_host(env, "SLURM_TASKS_PER_NODE", len(hosts)) or (1,) * len(hosts),
        cpus_per_host=_per_host(env, "SLURM_JOB_CPUS_PER_NODE", len(hosts)),
        cpus_on_node=_positive(env, "SLURM_CPUS_ON_NODE"),
        submit_dir=Path(env["SLURM_SUBMIT_DIR"]) if env.get("SLURM_SUBMIT_DIR") else None,
        job_name=env.get("SLURM_JOB_NAME") or None,
    )


def _first_set(env: Mapping[str, str], *variables: str) -> tuple[str, str]:
    """The first of `variables` set to a non-empty value, and its value."""
    for variable in variables:
        value = env.get(variable, "").strip()
        if value:
            return variable, value
    others = f" (nor {', '.join(variables[1:])})" if len(variables) > 1 else ""
    raise SlurmEnvError(
        variables[0],
        None,
        f"expected inside a Slurm allocation{others}; start the run under salloc or sbatch",
    )


def _per_host(env: Mapping[str, str], variable: str, hosts: int) -> tuple[int, ...] | None:
    """A per-host count list, checked to have one entry per host; None when unset."""
    text = env.get(variable, "").strip()
    if not text:
        return None
    counts = expand_counts(text, variable)
    if len(counts) != hosts:
        raise SlurmEnvError(variable, text, f"expected one count per host ({hosts}), found {len(counts)}")
    if min(counts) < 1:
        raise SlurmEnvError(variable, text, "expected counts of at least 1")
    return tuple(counts)


def _positive(env: Mapping[str, str], variable: str) -> int | None:
    text = env.get(variable, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise SlurmEnvError(variable, text, "expected a positive whole number")
    return int(text)
