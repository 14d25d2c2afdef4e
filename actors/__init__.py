"""fedactors' actor runtime: actors, nodes, messages, clocks and transports."""

from actors.actor import Actor, handler
from actors.clock import Clock, LoopClock, WallClock
from actors.messages import Envelope, Message, TensorTree, message
from actors.node import Node, NodeConfig

__all__ = [
    "Actor",
    "Clock",
    "Envelope",
    "LoopClock",
    "Message",
    "Node",
    "NodeConfig",
    "TensorTree",
    "WallClock",
    "handler",
    "message",
]
