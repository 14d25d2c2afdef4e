"""fedactors' actor runtime: actors, nodes, messages, clocks and transports.

The exports are imported on first use (`actors.lazy`): importing a light
submodule such as `actors.configs` does not import the runtime.
"""

from typing import TYPE_CHECKING

from actors.lazy import lazy_exports

if TYPE_CHECKING:
    from actors.actor import Actor, handler
    from actors.clock import Clock, LoopClock, WallClock
    from actors.messages import Envelope, Message, TensorTree, message
    from actors.node import Node
    from actors.slots import NodeConfig

_EXPORTS = {
    "Actor": "actors.actor",
    "handler": "actors.actor",
    "Clock": "actors.clock",
    "LoopClock": "actors.clock",
    "WallClock": "actors.clock",
    "Envelope": "actors.messages",
    "Message": "actors.messages",
    "TensorTree": "actors.messages",
    "message": "actors.messages",
    "Node": "actors.node",
    "NodeConfig": "actors.node",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

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
