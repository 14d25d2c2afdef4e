"""Checkpoints: a server's or scheduler's state on disk, written atomically, read back on resume.

What a checkpoint holds (`ServerActor.state`, extended by each algorithm):
the global model, its version, the seeded generator's state, the clients that
joined (with their sample counts), the next task id, the dropped count, the
last accuracy and the run time so far; FedAvg and FedBuff add their server
optimizer's state, FedBuff its buffer, synchronous rounds their round, an
asynchronous edge what it last pushed. Tasks in flight are not kept: the
clients holding them restarted too, and get new work when they join again.

The file (`<directory>/<actor>.ckpt`) is written to a temporary file in the
same directory, flushed, fsynced, renamed over the old one, and the directory
fsynced, so a crash at any moment leaves the previous checkpoint or the new
one, never a torn file. Its bytes are the wire's form (`codec.encode_tree`:
a msgpack frame and raw tensor frames, no pickle) framed by a magic, the
frame sizes and a CRC-32, so a truncated or corrupt file is refused with a
`CheckpointError` naming it, never half-loaded.

Events recorded: `checkpoint_started` (version), `checkpoint_written`
(version, bytes, write_s) and `run_resumed` (version, elapsed_s). The file is
written only once every event recorded before `checkpoint_started` is in the
run's event log (`Metrics.settle`): a resumed run drops the actor's events
after that marker (`launcher.resume`) and makes them again, so the log, the
versions and the applied updates agree after any crash.
"""

from __future__ import annotations

import os
import struct
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from actors.codec import decode_tree, encode_tree
from actors.configs.servers import CheckpointConfig
from actors.errors import DecodeError, EncodeError, FedActorsError
from actors.server.errors import CheckpointError
from actors.statedict import checked_model as checked_model  # moved to `actors.statedict`: exported here

if TYPE_CHECKING:
    from actors.actor import Actor

R = TypeVar("R")

MAGIC = b"FACKPT\x00\x01"  # "fedactors checkpoint", format 1
_COUNT = struct.Struct("<I")
_CRC = struct.Struct("<I")
_log = structlog.get_logger("fedactors.checkpoint")


@dataclass(frozen=True, slots=True)
class Written:
    """One checkpoint on disk: its size and how long writing it took (with fsyncs)."""

    bytes: int
    seconds: float


# -- the file ---------------------------------------------------------------------


def write_checkpoint(path: Path, state: Mapping[str, Any]) -> int:
    """Write `state` to `path` atomically (temp file, fsync, rename, fsync of the directory).

    Returns:
        The file's size in bytes.

    Raises:
        OSError: the directory cannot be made or written.
        EncodeError: `state` holds something that is not a tree of tensors,
            containers, scalars and strings.
    """
    frames = [memoryview(f).cast("B") for f in encode_tree(state)]
    head = MAGIC + _COUNT.pack(len(frames)) + struct.pack(f"<{len(frames)}Q", *(f.nbytes for f in frames))
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")  # one per actor: a stale one is simply overwritten
    crc = zlib.crc32(head)
    with temp.open("wb") as out:
        out.write(head)
        for frame in frames:
            crc = zlib.crc32(frame, crc)
            out.write(frame)
        out.write(_CRC.pack(crc))
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    _fsync_directory(path.parent)  # the rename itself survives a power cut only once its directory is synced
    return len(head) + sum(f.nbytes for f in frames) + _CRC.size


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The state `write_checkpoint` wrote to `path` (tuples come back as lists).

    Raises:
        CheckpointError: the file cannot be read, is not a checkpoint, was cut
            short, fails its checksum, or does not decode.
        FileNotFoundError: there is no such file.
    """
    try:
        with path.open("rb") as source:
            data = bytearray(os.fstat(source.fileno()).st_size)
            source.readinto(data)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise CheckpointError(str(path), f"cannot be read: {exc}") from exc
    frames = _frames(path, memoryview(data))
    try:
        state = decode_tree(frames)
    except DecodeError as exc:
        raise CheckpointError(str(path), f"does not decode: {exc}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(str(path), f"holds a {type(state).__name__}, not an actor's state")
    return state


def _frames(path: Path, data: memoryview) -> list[memoryview]:
    """The frames of a checkpoint file's bytes, after its magic, sizes and checksum are checked."""
    start = len(MAGIC) + _COUNT.size
    if data.nbytes == 0:
        raise CheckpointError(str(path), "the file is empty")
    if bytes(data[: len(MAGIC)]) != MAGIC:
        raise CheckpointError(str(path), f"not a fedactors checkpoint (expected it to start with {MAGIC!r})")
    if data.nbytes < start + _CRC.size:
        raise CheckpointError(str(path), f"cut short: {data.nbytes} bytes cannot hold a header")
    (count,) = _COUNT.unpack_from(data, len(MAGIC))
    if data.nbytes < start + 8 * count + _CRC.size:
        raise CheckpointError(str(path), f"cut short: {data.nbytes} bytes cannot hold {count} frame sizes")
    sizes = struct.unpack_from(f"<{count}Q", data, start)
    offset = start + 8 * count
    expected = offset + sum(sizes) + _CRC.size
    if data.nbytes != expected:
        raise CheckpointError(str(path), f"expected {expected} bytes as its header says, got {data.nbytes}")
    (crc,) = _CRC.unpack_from(data, expected - _CRC.size)
    if zlib.crc32(data[: expected - _CRC.size]) != crc:
        raise CheckpointError(str(path), "checksum mismatch: the file is corrupt")
    frames = []
    for size in sizes:
        frames.append(data[offset : offset + size])
        offset += size
    return frames


class Checkpointer:
    """One actor's checkpoint file and when to write it.

    Args:
        config: the run's `[checkpoint]` table, with its `directory` resolved.
        actor: the actor's name (the file is `<directory>/<actor>.ckpt`).
    """

    def __init__(self, config: CheckpointConfig, actor: str) -> None:
        assert config.directory is not None, "the launcher resolves checkpoint.directory"
        self.config = config
        self.actor = actor
        self.path = Path(config.directory) / f"{actor}.ckpt"
        self._written_version = 0
        self._written_at = 0.0

    @property
    def resume(self) -> bool:
        """Whether the actor restores from its file before it starts."""
        return self.config.resume

    def due(self, version: int, now: float) -> bool:
        """Whether a checkpoint is due at `version`, `now` clock seconds into this process."""
        every_versions, every_s = self.config.every_versions, self.config.every_s
        if every_versions and version - self._written_version >= every_versions:
            return True
        return bool(every_s and now - self._written_at >= every_s)

    def mark(self, version: int, now: float) -> None:
        """Count the next interval from here (a write was made or tried, or a checkpoint loaded)."""
        self._written_version, self._written_at = version, now

    def write(self, state: Mapping[str, Any]) -> Written:
        """Write `state` atomically (see `write_checkpoint`); runs on a compute thread.

        Raises:
            OSError, EncodeError: as for `write_checkpoint`.
        """
        started = time.perf_counter()  # how long the write takes: a cost the event log reports
        size = write_checkpoint(self.path, state)
        return Written(size, time.perf_counter() - started)

    def load(self) -> dict[str, Any] | None:
        """The state in the file, or None (logged as a warning) when there is none.

        Raises:
            CheckpointError: see `read_checkpoint`.
        """
        try:
            return read_checkpoint(self.path)
        except FileNotFoundError:
            _log.warning("checkpoint_missing", actor=self.actor, path=str(self.path), action="starts afresh")
            return None


# -- the component a server has ----------------------------------------------------


class Checkpoints:
    """When an actor's state goes to disk, and how it comes back: what every server has.

    The actor says what its state is (`state()`, `load_state()`, see
    `ServerActor`); this part decides when a checkpoint is due, writes it on
    the compute thread once the event log holds what it does, and turns a file
    that does not fit into a `CheckpointError`.

    Args:
        checkpointer: the actor's file and schedule (None: never, as in simulations).
    """

    def __init__(self, checkpointer: Checkpointer | None) -> None:
        self.checkpointer = checkpointer

    def restore(self, kind: str, load_state: Callable[[Mapping[str, Any]], int]) -> bool:
        """Restore from the checkpoint when the run resumes (call before the actor is spawned).

        Args:
            kind: the actor's class, which must be the one that wrote the file (field 'class').
            load_state: restores the actor from a state; returns its version then.

        Returns:
            Whether it restored (False: not resuming, or no file: it starts afresh).

        Raises:
            CheckpointError: the file is unreadable, or does not fit this actor.
        """
        checkpointer = self.checkpointer
        if checkpointer is None or not checkpointer.resume:
            return False
        state = checkpointer.load()
        if state is None:
            return False
        try:
            if state["class"] != kind:
                raise ValueError(f"written by a {state['class']!s:.60}, not a {kind} (field 'class')")
            version = load_state(state)
        except KeyError as exc:
            raise CheckpointError(
                str(checkpointer.path), f"does not fit this {kind}: field {exc} is missing"
            ) from exc
        except (TypeError, ValueError, FedActorsError) as exc:
            raise CheckpointError(str(checkpointer.path), f"does not fit this {kind}: {exc}") from exc
        checkpointer.mark(version, 0.0)
        return True

    async def write_when_due(self, actor: Actor, version: int, state: Callable[[], dict[str, Any]]) -> None:
        """Write `actor`'s `state()` if a checkpoint is due at `version`, on the compute thread.

        A write that fails (a full disk) is logged and tried again at the next
        interval: losing a checkpoint must not end the run it protects.
        """
        checkpointer = self.checkpointer
        if checkpointer is None or not checkpointer.due(version, actor.clock.now()):
            return
        checkpointer.mark(version, actor.clock.now())
        snapshot = state()
        actor.metrics.record("checkpoint_started", version=version)
        if not await actor.metrics.settle():  # the log must hold what the checkpoint does
            actor.log.warning(
                "checkpoint_not_written", path=str(checkpointer.path), reason="events unconfirmed"
            )
            return
        try:
            written = await actor.compute(checkpointer.write, snapshot)
        except (OSError, EncodeError) as exc:
            actor.log.warning("checkpoint_not_written", path=str(checkpointer.path), reason=str(exc))
            return
        actor.metrics.record(
            "checkpoint_written", version=version, bytes=written.bytes, write_s=written.seconds
        )
