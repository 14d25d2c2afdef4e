"""`Reporter`: a node's event sink that ships records to the run's recorder in batches.

`Metrics.record` must not block an actor, so records are buffered here and
sent as one `Events` message every `flush_interval_s` or every `batch_size`
records, whichever comes first. What is buffered when the node stops is sent
from `on_stop`, so a clean shutdown loses no event. `settle` sends what is
buffered and waits for the recorder's receipt: a server calls it (through
`Metrics.settle`) before each checkpoint, so that a crash never leaves a
checkpoint holding versions whose events are not in the event log.
"""

from __future__ import annotations

import asyncio

from actors.actor import Actor
from actors.errors import FedActorsError
from actors.metrics import Record
from actors.protocol import Events

FLUSH_INTERVAL_S = 0.2  # fresh enough for a progress bar, few enough messages to cost nothing
BATCH_SIZE = 200
FINAL_FLUSH_TIMEOUT_S = 10.0


class Reporter(Actor):
    """Buffers records (it is the node's `EventSink`) and sends them to `recorder`."""

    def __init__(self, recorder: str, flush_interval_s: float = FLUSH_INTERVAL_S) -> None:
        self.recorder = recorder
        self.flush_interval_s = flush_interval_s
        self._buffer: list[Record] = []
        self._full = asyncio.Event()
        # One batch in flight at a time: a confirmed batch then follows every
        # earlier one on the same link, so its receipt covers them too.
        self._sending = asyncio.Lock()

    def emit(self, record: Record) -> None:
        self._buffer.append(record)
        if len(self._buffer) >= BATCH_SIZE:
            self._full.set()

    async def on_start(self) -> None:
        self.start_task(self._flush_forever(), "flush")

    async def on_stop(self) -> None:
        # The last batch is asked, not told: the node closes its sockets right
        # after this (linger 0), and a told message still queued would be lost.
        await self.flush(confirm=True)

    async def settle(self) -> bool:
        """Send what is buffered and wait until the recorder has written it and all before it.

        Returns:
            Whether it was confirmed (False: the recorder did not answer; logged).
        """
        return await self.flush(confirm=True)

    async def flush(self, confirm: bool = False) -> bool:
        """Send what is buffered now (and wait for the recorder's receipt if `confirm`).

        Returns:
            False if the batch could not be sent or confirmed (logged as `events_lost`).
        """
        async with self._sending:
            batch, self._buffer = self._buffer, []
            self._full.clear()
            if not batch:
                return True
            try:
                if confirm:
                    await self.ask(self.recorder, Events(batch), timeout_s=FINAL_FLUSH_TIMEOUT_S)
                else:
                    await self.send(self.recorder, Events(batch))
            except FedActorsError as exc:
                self.log.warning("events_lost", count=len(batch), reason=str(exc))
                return False
            return True

    async def _flush_forever(self) -> None:
        while True:
            try:
                async with self.clock.timeout(self.flush_interval_s):
                    await self._full.wait()
            except TimeoutError:
                pass
            await self.flush()
