"""Message classes used only by the runtime tests."""

from __future__ import annotations

from actors.messages import Message, TensorTree, message


@message("test.ping")
class Ping(Message):
    n: int


@message("test.pong")
class Pong(Message):
    n: int


@message("test.blob")
class Blob(Message):
    tag: str
    tree: TensorTree
    note: str | None = None
