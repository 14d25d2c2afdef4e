"""`EdgeCodecs` and the node's hooks: what travels, how many bytes, and what the receiver gets."""

from __future__ import annotations

import asyncio
import math

import pytest
import torch

from actors import Actor, Node, handler
from actors.codec import decode, encode, wire_size
from actors.compression import Compressed, Fp16Config, QsgdConfig, SchemeConfig, TopkConfig
from actors.compression.edges import EdgeCodecs, expand, expand_any, is_compressed
from actors.errors import EncodeError
from actors.messages import Envelope
from actors.metrics import ListSink
from actors.protocol import Evaluate, PushPull, Relayed, Task, Update

N = 10_000


def _update(weights: dict[str, torch.Tensor], task_id: int = 1, is_delta: bool = True) -> Update:
    return Update(task_id, 0, weights, is_delta, 10, 0.5, 1.0)


def _codecs(config: SchemeConfig, seed: int = 0) -> EdgeCodecs:
    return EdgeCodecs({("c0", "server"): config, ("c1", "server"): config}, seed)


def _sent(codecs: EdgeCodecs, body: Update | Task, sender: str = "c0") -> tuple[Envelope, dict[str, object]]:
    done = codecs.compress(Envelope(sender, "server", body))
    assert done is not None
    return done


def test_messages_off_compressed_edges_and_without_weights_pass_as_they_are() -> None:
    codecs = _codecs(Fp16Config())
    weights = {"w": torch.ones(4)}

    assert codecs.compress(Envelope("server", "c0", Task(1, 0, weights))) is None
    assert codecs.compress(Envelope("c2", "server", _update(weights))) is None
    assert codecs.compress(Envelope("c0", "server", Evaluate(weights))) is None


@pytest.mark.parametrize(
    ("config", "formula"),
    [
        (Fp16Config(), 2 * N),
        (QsgdConfig(bits=8), N + 4 * math.ceil(N / 512)),
        (QsgdConfig(bits=4), N // 2 + 4 * math.ceil(N / 512)),
        (QsgdConfig(bits=2, bucket_size=N), N // 4 + 4),
        (TopkConfig(fraction=0.01), 8 * 100),
    ],
    ids=["fp16", "qsgd8", "qsgd4", "qsgd2", "topk1%"],
)
def test_bytes_counted_and_on_the_wire_are_the_schemes_formula(config: SchemeConfig, formula: int) -> None:
    body = _update({"w": torch.randn(N)})

    sent, event = _sent(_codecs(config), body)

    dense_wire = wire_size(encode(Envelope("c0", "server", body)))
    assert event["bytes"] == formula
    assert event["dense_bytes"] == 4 * N
    assert 0 < wire_size(encode(sent)) - formula < 400  # the envelope: kind, names, shapes, scheme
    assert 0 < dense_wire - 4 * N < 200


def test_a_compressed_update_crosses_the_codec_and_expands_to_dense_float32() -> None:
    weights = {"w": torch.randn(3, 5), "steps": torch.tensor([7], dtype=torch.int64)}
    sent, _ = _sent(_codecs(QsgdConfig(bits=4)), _update(weights, task_id=3))

    received = decode(encode(sent))
    assert isinstance(received.body, Compressed)
    update = expand(received.body)

    assert isinstance(update, Update)
    assert (update.task_id, update.is_delta, update.num_samples) == (3, True, 10)
    assert update.weights["w"].dtype == torch.float32
    assert update.weights["w"].shape == (3, 5)
    assert torch.equal(update.weights["w"], expand(sent.body).weights["w"])  # type: ignore[union-attr]
    assert torch.equal(update.weights["steps"], weights["steps"])


def test_error_feedback_residual_is_carried_across_tasks_per_edge() -> None:
    codecs = _codecs(TopkConfig(fraction=0.5))

    first, _ = _sent(codecs, _update({"w": torch.tensor([1.0, -3.0, 0.5, 2.0])}, task_id=1))
    other, _ = _sent(codecs, _update({"w": torch.tensor([0.5, 0.1, 0.2, -0.1])}, task_id=2), sender="c1")
    second, _ = _sent(codecs, _update({"w": torch.tensor([0.5, 0.1, 0.2, -0.1])}, task_id=4))

    def dense(envelope: Envelope) -> list[float]:
        return expand(envelope.body).weights["w"].tolist()  # type: ignore[arg-type, union-attr]

    assert dense(first) == [0.0, -3.0, 0.0, 2.0]
    assert dense(other) == pytest.approx([0.5, 0.0, 0.2, 0.0])  # c1's edge has no residual yet
    assert dense(second) == pytest.approx([1.5, 0.0, 0.7, 0.0])  # c0's residual [1, 0, 0.5, 0] added


def test_stochastic_rounding_depends_only_on_run_seed_edge_and_task() -> None:
    weights = {"w": torch.randn(1000, generator=torch.Generator().manual_seed(0))}

    def q(seed: int, task_id: int, sender: str = "c0") -> torch.Tensor:
        sent, _ = _sent(_codecs(QsgdConfig(bits=4), seed), _update(weights, task_id), sender)
        return sent.body.body["weights"]["w"]["data"]["q"]  # type: ignore[attr-defined, no-any-return]

    assert torch.equal(q(0, 1), q(0, 1))
    assert not torch.equal(q(0, 1), q(1, 1))
    assert not torch.equal(q(0, 1), q(0, 2))
    assert not torch.equal(q(0, 1), q(0, 1, "c1"))


def test_topk_on_full_weights_is_refused_naming_the_edge() -> None:
    codecs = _codecs(TopkConfig())

    with pytest.raises(EncodeError, match="topk on c0 -> server needs a delta"):
        codecs.compress(Envelope("c0", "server", _update({"w": torch.ones(4)}, is_delta=False)))


class Inbox(Actor):
    def __init__(self) -> None:
        self.got: list[Update] = []
        self.arrived = asyncio.Event()

    @handler
    async def on_update(self, msg: Update, sender: str) -> None:
        self.got.append(msg)
        self.arrived.set()


class Probe(Actor):
    pass


async def test_the_node_compresses_where_it_routes_and_the_handler_sees_dense_weights() -> None:
    sink = ListSink()
    node = Node("n", sink=sink, compression=EdgeCodecs({("c0", "server"): Fp16Config()}, 0))
    inbox = node.spawn(Inbox(), "server")
    probe = node.spawn(Probe(), "c0")
    weights = {"w": torch.tensor([1.0, 1 / 3])}

    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await node.wait_started()
        await probe.send("server", _update(weights))
        await inbox.arrived.wait()
        node.stop()

    (got,) = inbox.got
    assert got.weights["w"].dtype == torch.float32
    assert got.weights["w"].tolist() == [1.0, float(torch.tensor(1 / 3).half())]
    (event,) = sink.of("message_compressed")
    assert (event["actor"], event["receiver"], event["kind"], event["scheme"]) == (
        "c0",
        "server",
        "fl.update",
        "fp16",
    )
    assert (event["bytes"], event["dense_bytes"]) == (4, 8)


async def test_a_malformed_compressed_message_is_dropped_and_counted() -> None:
    node = Node("n")
    inbox = node.spawn(Inbox(), "server")
    probe = node.spawn(Probe(), "c0")
    bad = Compressed(
        {"kind": "fp16"}, "fl.update", {**_update({}).to_fields(), "weights": {"w": {"shape": [2]}}}
    )

    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await node.wait_started()
        await probe.send("server", bad)
        await probe.send("server", _update({"w": torch.ones(1)}))
        await inbox.arrived.wait()
        node.stop()

    assert [u.weights["w"].tolist() for u in inbox.got] == [[1.0]]
    assert node.dropped["undecodable compressed weights"] == 1


def test_a_relayed_update_is_compressed_with_a_residual_per_child() -> None:
    codecs = EdgeCodecs({("relay", "server"): TopkConfig(fraction=0.5)}, 0)
    delta = {"w": torch.tensor([1.0, 2.0])}

    for child in ("c0", "c1"):
        done = codecs.compress(
            Envelope("relay", "server", Relayed(child, _update(delta)))
        )
        assert done is not None
        sent, event = done
        assert (event["child"], event["kind"], event["bytes"], event["dense_bytes"]) == (
            child,
            "fl.update",
            8,
            8,
        )
        assert is_compressed(sent.body)
        back = expand_any(decode(encode(sent)).body)
        assert isinstance(back, Relayed)
        assert isinstance(back.body, Update)
        assert (back.child, back.body.kind, back.body.weights["w"].tolist()) == (
            child,
            "fl.update",
            [0.0, 2.0],
        )

    again = codecs.compress(
        Envelope(
            "relay",
            "server",
            Relayed("c0", _update({"w": torch.tensor([1.5, 1.0])})),
        )
    )
    assert again is not None
    # c0's residual (the 1.0 left out of its first update) joins its second: [2.5, 1.0]; c1's is apart
    relayed = expand_any(again[0].body)
    assert isinstance(relayed, Relayed)
    assert isinstance(relayed.body, Update)
    assert relayed.body.weights["w"].tolist() == [2.5, 0.0]


class Answerer(Actor):
    @handler
    async def on_push_pull(self, msg: PushPull, sender: str) -> PushPull:
        return PushPull({"w": msg.weights["w"] * 2})


async def test_an_asked_gossip_model_and_its_reply_both_travel_compressed() -> None:
    sink = ListSink()
    edges: dict[tuple[str, str], SchemeConfig] = {("a", "b"): Fp16Config(), ("b", "a"): Fp16Config()}
    node = Node("n", sink=sink, compression=EdgeCodecs(edges, 0))
    node.spawn(Answerer(), "b")
    asker = node.spawn(Probe(), "a")

    async with asyncio.TaskGroup() as tg:
        tg.create_task(node.run())
        await node.wait_started()
        reply = await asker.ask("b", PushPull({"w": torch.tensor([1 / 3])}))
        node.stop()

    assert isinstance(reply, PushPull)
    assert reply.weights["w"].tolist() == [float(torch.tensor(1 / 3).half()) * 2]  # fp16 both ways
    events = sink.of("message_compressed")
    assert [(e["actor"], e["receiver"], e["kind"], e["bytes"]) for e in events] == [
        ("a", "b", "gossip.push_pull", 2),
        ("b", "a", "gossip.push_pull", 2),
    ]
