"""Bytes as they went over the wire, from the event log: compressed links count what they really sent.

`update_applied` and the gossip events (`gossip_round`, `gossip_exchanged`)
count the dense tensor bytes of the models involved: a compressed message is
expanded before any handler sees it. The sender's `message_compressed` event
says what the weights took on the wire. A scheme's size depends only on the
tensors' shapes (fp16: 2 bytes a value; QSGD: ⌈n·bits/8⌉ plus 4 bytes a
bucket; top-k: 8k), so every message of one kind on one directed edge has the
same size, and each counted message takes the size its edge's compressed
messages had: no matching of messages, so the order in which node processes'
events reach the log does not matter.
"""

from __future__ import annotations

from typing import Any

Records = list[dict[str, Any]]
Edge = tuple[str, str, str]  # (sender, receiver, message kind); a relayed message's sender is its child
GOSSIP_BYTES_EVENTS = ("gossip_round", "gossip_exchanged")  # what peers send each other


def _edge(record: dict[str, Any]) -> Edge:
    """A compressed message's edge; a relayed one's stands for its child's: tasks go down to it,
    updates come up from it."""
    child = record.get("child")
    if child is None:
        return record["actor"], record["receiver"], record["kind"]
    if record["kind"] == "fl.task":
        return record["actor"], child, record["kind"]
    return child, record["receiver"], record["kind"]


class WireSizes:
    """Per directed edge and message kind, the (wire, dense) tensor bytes of one compressed message."""

    def __init__(self, records: Records) -> None:
        self.sizes: dict[Edge, tuple[int, int]] = {}
        for r in records:
            if r["event"] == "message_compressed":
                self.sizes.setdefault(_edge(r), (r["bytes"], r["dense_bytes"]))

    def _wire(self, edge: Edge, dense: int) -> int:
        size = self.sizes.get(edge)
        return dense if size is None else size[0]

    def update(self, record: dict[str, Any]) -> int:
        """An `update_applied`'s bytes as its last hop carried them (the event's are dense)."""
        return self._wire((record["client"], record["actor"], "fl.update"), record.get("bytes", 0))

    def task(self, record: dict[str, Any]) -> int:
        """The bytes of the task behind an `update_applied`: one model (the update's dense
        size), as the downlink to that client carried it."""
        return self._wire((record["actor"], record["client"], "fl.task"), record.get("bytes", 0))

    def gossip(self, record: dict[str, Any]) -> int:
        """A gossip event's bytes as sent: per neighbour, its edge's compressed size."""
        dense = record.get("bytes", 0)
        if record["event"] == "gossip_exchanged":
            half = dense // 2  # the model pushed and the one pulled back, of one size
            peer, other = record["actor"], record["neighbour"]
            kind = "gossip.push_pull"
            return self._wire((peer, other, kind), half) + self._wire((other, peer, kind), half)
        return self._dpsgd_round(record, dense)

    def _dpsgd_round(self, record: dict[str, Any], dense: int) -> int:
        """`bytes` = model × neighbours × gossip steps; each compressed neighbour's share shrinks."""
        peer, neighbours = record["actor"], int(record.get("neighbours", 0))
        compressed = [s for (a, _, k), s in self.sizes.items() if a == peer and k == "gossip.model"]
        if not compressed or not neighbours:
            return dense
        model = int(compressed[0][1])
        steps = int(dense) // (neighbours * model)
        return steps * (model * (neighbours - len(compressed)) + sum(int(wire) for wire, _ in compressed))

    def sent(self, record: dict[str, Any]) -> tuple[int, int]:
        """(wire, dense) bytes a record adds to `bytes_up`: applied updates and gossip; else (0, 0)."""
        if record["event"] == "update_applied":
            return self.update(record), record.get("bytes", 0)
        if record["event"] in GOSSIP_BYTES_EVENTS:
            return self.gossip(record), record.get("bytes", 0)
        return 0, 0
