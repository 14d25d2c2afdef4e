"""Every update is checked before an algorithm sees it: each bad one is dropped with its reason.

The server runs on its own node and the clients on another, joined by the local
transport; a scripted client sends hand-made updates for the task it was given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pydantic
import pytest
import structlog.testing
import torch

from actors import Actor, Node, handler
from actors.metrics import ListSink, Record
from actors.protocol import Join, Leave, Task, Update
from actors.server.base import ServerActor, ServerDeps
from actors.server.fedasync import FedAsyncConfig, FedAsyncServer
from actors.server.fedavg import FedAvgConfig, FedAvgServer
from actors.server.fedbuff import FedBuffConfig, FedBuffServer
from actors.server.stop import StopConfig
from actors.server.validation import LOG_FIRST_REJECTIONS, Rejection, UpdateValidator, ValidationConfig
from actors.statedict import StateDict
from actors.transport.local import LocalHub, LocalTransport
from sims.build import NodeBuilder
from sims.results import summarize
from topologies.load import TopologyError, parse_topology

WAIT_S = 10.0  # generous: every wait below ends on an event long before this


def weights(*values: float, dtype: torch.dtype = torch.float64) -> StateDict:
    return {"w": torch.tensor(values, dtype=dtype)}


class WatchedSink(ListSink):
    """A ListSink that can be awaited until enough records of an event came in."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Event()

    def emit(self, record: Record) -> None:
        super().emit(record)
        self._changed.set()

    async def wait_for(self, event: str, count: int = 1) -> None:
        async with asyncio.timeout(WAIT_S):
            while len(self.of(event)) < count:
                self._changed.clear()
                await self._changed.wait()


class ScriptedClient(Actor):
    """Joins (if told to), keeps the tasks it is given, and sends what the test says."""

    def __init__(self, join: bool = True) -> None:
        self.join = join
        self.tasks: asyncio.Queue[Task] = asyncio.Queue()

    async def on_start(self) -> None:
        if self.join:
            await self.send("server", Join(10))

    @handler
    async def on_task(self, task: Task, sender: str) -> None:
        self.tasks.put_nowait(task)

    @handler
    async def on_leave(self, msg: Leave, sender: str) -> None:
        pass

    async def next_task(self) -> Task:
        async with asyncio.timeout(WAIT_S):
            return await self.tasks.get()


ServerFactory = Callable[[ValidationConfig, ServerDeps], ServerActor]

SERVERS: dict[str, ServerFactory] = {
    "fedasync": lambda v, deps: FedAsyncServer(FedAsyncConfig(alpha=0.5, validation=v), weights(0.0), deps),
    "fedbuff": lambda v, deps: FedBuffServer(FedBuffConfig(buffer_size=1, validation=v), weights(0.0), deps),
    "fedavg": lambda v, deps: FedAvgServer(FedAvgConfig(min_clients=1, validation=v), weights(0.0), deps),
}


@dataclass
class Run:
    server: ServerActor
    client: ScriptedClient
    intruder: ScriptedClient
    sink: WatchedSink

    def reasons(self) -> list[str]:
        return [r["reason"] for r in self.sink.of("update_dropped")]


@asynccontextmanager
async def hosted(algorithm: str, validation: ValidationConfig | None = None) -> AsyncIterator[Run]:
    """`server` on node srv expecting only client-0; client-0 and an intruder on node cli."""
    hub, sink = LocalHub(), WatchedSink()
    srv = Node("srv", LocalTransport("srv", hub), sink=sink)
    cli = Node("cli", LocalTransport("cli", hub), sink=sink)
    deps = ServerDeps(
        evaluator=None, stop=StopConfig(max_versions=100), expected_clients=frozenset({"client-0"})
    )
    server = srv.spawn(SERVERS[algorithm](validation or ValidationConfig(), deps), "server")
    client = cli.spawn(ScriptedClient(), "client-0")
    intruder = cli.spawn(ScriptedClient(join=False), "intruder")
    cli.add_route("server", "srv")
    async with asyncio.TaskGroup() as tg:
        tg.create_task(srv.run())
        await srv.wait_started()
        tg.create_task(cli.run())
        try:
            yield Run(server, client, intruder, sink)  # type: ignore[arg-type]
        finally:
            cli.stop()
            srv.stop()


def update_for(task: Task, w: object, **changes: object) -> Update:
    """An update answering `task` with payload `w` (weights or delta, as the task asked)."""
    fields: dict[str, object] = {
        "task_id": task.task_id,
        "base_version": task.version,
        "weights": w,
        "is_delta": task.want_delta,
        "num_samples": 10,
        "loss": 0.5,
        "compute_s": 0.1,
    }
    fields.update(changes)
    return Update(**fields)  # type: ignore[arg-type]


def good(task: Task) -> Update:
    return update_for(task, weights(1.0))


BAD_UPDATES: dict[str, tuple[Callable[[Task], Update], str]] = {
    "dtype": (lambda t: update_for(t, weights(1.0, dtype=torch.float32)), "dtype_mismatch"),
    "nan": (lambda t: update_for(t, weights(float("nan"))), "nan"),
    "inf": (lambda t: update_for(t, weights(float("-inf"))), "inf"),
    "norm": (lambda t: update_for(t, weights(100.0)), "norm_too_large"),
    "future_version": (lambda t: update_for(t, weights(1.0), base_version=t.version + 1), "future_version"),
    "unknown_task": (lambda t: update_for(t, weights(1.0), task_id=t.task_id + 1000), "unknown_task"),
    "no_samples": (lambda t: update_for(t, weights(1.0), num_samples=0), "invalid_field"),
    "shape": (lambda t: update_for(t, weights(1.0, 2.0)), "shape_mismatch"),
    "keys": (lambda t: update_for(t, {"v": torch.zeros(1, dtype=torch.float64)}), "shape_mismatch"),
    "list": (lambda t: update_for(t, [torch.zeros(1, dtype=torch.float64)]), "not_a_state_dict"),
    "numpy_leaf": (lambda t: update_for(t, {"w": torch.zeros(1).numpy()}), "not_a_state_dict"),
}


@pytest.mark.parametrize("algorithm", list(SERVERS))
@pytest.mark.parametrize("bad", list(BAD_UPDATES))
async def test_a_bad_update_is_dropped_with_its_reason_and_the_task_stays_open(
    algorithm: str, bad: str
) -> None:
    make_bad, reason = BAD_UPDATES[bad]

    async with hosted(algorithm, ValidationConfig(max_norm=10.0)) as run:
        task = await run.client.next_task()
        await run.client.send("server", make_bad(task))
        await run.sink.wait_for("update_dropped")
        await run.client.send("server", good(task))
        await run.sink.wait_for("update_applied")

    assert run.reasons() == [reason]
    assert [r["client"] for r in run.sink.of("update_applied")] == ["client-0"]
    assert run.server.validator.rejected == {reason: 1}


@pytest.mark.parametrize("algorithm", list(SERVERS))
async def test_a_second_answer_to_the_same_task_is_a_duplicate(algorithm: str) -> None:
    async with hosted(algorithm) as run:
        task = await run.client.next_task()
        await run.client.send("server", good(task))
        await run.sink.wait_for("update_applied")
        await run.client.send("server", good(task))
        await run.sink.wait_for("update_dropped")

    assert run.reasons() == ["duplicate"]
    assert run.server.version == 1


@pytest.mark.parametrize("algorithm", list(SERVERS))
async def test_join_and_update_from_outside_the_topology_are_refused_as_unknown_sender(
    algorithm: str,
) -> None:
    async with hosted(algorithm) as run:
        task = await run.client.next_task()
        await run.intruder.send("server", Join(1_000_000))
        await run.intruder.send("server", good(task))
        await run.sink.wait_for("update_dropped", 2)
        await run.client.send("server", good(task))
        await run.sink.wait_for("update_applied")

    assert run.reasons() == ["unknown_sender", "unknown_sender"]
    assert [r.get("kind") for r in run.sink.of("update_dropped")] == ["fl.join", None]
    assert list(run.server.clients) == ["client-0"]
    assert run.intruder.tasks.empty()


async def test_every_rejection_is_logged_with_its_reason_and_counted_in_the_summary() -> None:
    with structlog.testing.capture_logs() as logs:
        async with hosted("fedasync", ValidationConfig(max_norm=10.0)) as run:
            task = await run.client.next_task()
            for bad in ("nan", "nan", "norm", "dtype"):
                await run.client.send("server", BAD_UPDATES[bad][0](task))
            await run.intruder.send("server", Join(1))
            await run.sink.wait_for("update_dropped", 5)

    summary = summarize(run.sink.records)
    warned = [(e["client"], e["reason"]) for e in logs if e["event"] == "update_rejected"]
    assert summary["rejected"] == {"dtype_mismatch": 1, "nan": 2, "norm_too_large": 1, "unknown_sender": 1}
    assert summary["updates_dropped"] == 5
    assert warned == [
        ("client-0", "nan"),
        ("client-0", "nan"),
        ("client-0", "norm_too_large"),
        ("client-0", "dtype_mismatch"),
        ("intruder", "unknown_sender"),
    ]
    assert all(e["log_level"] == "warning" and e["detail"] for e in logs if e["event"] == "update_rejected")


# -- the validator on its own -------------------------------------------------------------


def test_a_flood_of_rejections_logs_the_first_ones_then_only_at_powers_of_two() -> None:
    validator = UpdateValidator(ValidationConfig())

    with structlog.testing.capture_logs() as logs:
        log = structlog.get_logger()
        for _ in range(100):
            validator.report(log, "rogue", Rejection("unknown_task", "task 0 is not in flight"))

    assert [e["count"] for e in logs] == [*range(1, LOG_FIRST_REJECTIONS + 1), 16, 32, 64]
    assert validator.rejected == {"unknown_task": 100}


def test_the_oldest_answered_task_is_forgotten_first_so_memory_stays_bounded() -> None:
    validator = UpdateValidator(ValidationConfig(remembered_tasks=2))
    for task_id in (1, 2, 3):
        validator.remember(task_id)
    task = Task(task_id=1, version=0, weights=weights(0.0))

    forgotten = validator.check("c", update_for(task, weights(1.0)), None, weights(0.0), 0)
    remembered = validator.check("c", update_for(task, weights(1.0), task_id=3), None, weights(0.0), 0)

    assert forgotten == Rejection("unknown_task", "task 1 is not in flight (in flight: None)")
    assert remembered == Rejection("duplicate", "task 3 was already answered")


def test_the_norm_of_a_weight_update_is_its_distance_from_the_global_model() -> None:
    validator = UpdateValidator(ValidationConfig(max_norm=5.0))
    task = Task(task_id=1, version=0, weights=weights(100.0, 100.0))

    near = validator.check("c", update_for(task, weights(103.0, 104.0)), 1, weights(100.0, 100.0), 0)
    far = validator.check("c", update_for(task, weights(103.0, 105.0)), 1, weights(100.0, 100.0), 0)

    # ‖(3, 4)‖ = 5 is within the bound; ‖(3, 5)‖ ≈ 5.83 is not.
    assert near is None
    assert far == Rejection(
        "norm_too_large", "L2 norm of the weights - global model is 5.831, above max_norm 5.0"
    )


def test_the_floating_dtype_rule_takes_half_precision_deltas_but_not_integer_for_float() -> None:
    validator = UpdateValidator(ValidationConfig(dtypes="floating"))
    task = Task(task_id=1, version=0, weights=weights(0.0), want_delta=True)

    half = validator.check("c", update_for(task, weights(1.0, dtype=torch.float16)), 1, weights(0.0), 0)
    integer = validator.check("c", update_for(task, {"w": torch.tensor([1])}), 1, weights(0.0), 0)

    assert half is None
    assert integer == Rejection(
        "dtype_mismatch", "key 'w' has dtype torch.int64, the model has torch.float64"
    )


def test_without_expected_clients_anyone_may_send() -> None:
    validator = UpdateValidator(ValidationConfig(), expected_clients=None)

    assert validator.sender_rejection("anyone") is None


# -- topology files -----------------------------------------------------------------------

TOPOLOGY = """
name = "validation"
seed = 0
[graph]
template = "star"
clients = 3
[server]
algorithm = "fedasync"
{validation}
[client]
epochs = 1
[model]
kind = "logreg"
[data]
kind = "digits"
partition = {{ kind = "iid" }}
[stop]
max_versions = 1
"""


def test_a_built_server_expects_exactly_the_clients_of_the_topology_and_its_validation_table() -> None:
    spec = parse_topology(TOPOLOGY.format(validation="validation = { max_norm = 5.0, dtypes = 'floating' }"))
    builder = NodeBuilder(spec)
    root = builder.graph.root()
    assert root is not None

    [(_, server)] = builder.build([root])

    assert isinstance(server, ServerActor)
    assert server.deps.expected_clients == frozenset(n.id for n in builder.graph.of_role("client"))
    assert server.validator.config == ValidationConfig(max_norm=5.0, dtypes="floating")


def test_a_typo_in_the_validation_table_is_an_error_that_names_the_field() -> None:
    with pytest.raises(TopologyError, match="max_nrom"):
        parse_topology(TOPOLOGY.format(validation="validation = { max_nrom = 5.0 }"))


def test_max_norm_must_be_positive() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"max_norm\n.*greater than 0"):
        ValidationConfig(max_norm=0.0)


def test_an_update_for_a_task_that_timed_out_is_late_and_counted_without_a_warning() -> None:
    validator = UpdateValidator(ValidationConfig())
    validator.expired(7)
    task = Task(task_id=7, version=0, weights=weights(0.0))

    with structlog.testing.capture_logs() as logs:
        rejection = validator.check("c", update_for(task, weights(1.0)), 8, weights(0.0), 0)
        assert rejection is not None
        validator.report(structlog.get_logger(), "c", rejection)

    assert rejection == Rejection("late", "task 7 timed out before its update came")
    assert [e for e in logs if e["log_level"] != "debug"] == []
    assert validator.rejected == {"late": 1}
