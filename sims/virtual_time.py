"""Virtual time: an asyncio event loop whose clock jumps to the next timer when all is idle.

The model is trio's `MockClock` with autojump. asyncio's loop asks its selector
to wait until the next timer is due; this selector instead polls the real file
descriptors without waiting and, when nothing is ready, moves the loop's clock
forward by exactly that wait. So `asyncio.sleep`, `asyncio.timeout` and the
actors' `LoopClock` all run on simulated seconds that cost no wall time, and
the order of events depends only on the program and its seeds.

Real work (training) still takes real time, but the clock does not move while
it runs: the simulation runs compute inline, never in threads.
"""

from __future__ import annotations

import asyncio
import heapq
import selectors
from collections.abc import Callable, Coroutine
from contextvars import Context
from typing import Any, TypeVar, TypeVarTuple


class _JumpingSelector(selectors.BaseSelector):
    """Wraps a real selector; an idle wait becomes a jump of the loop's clock."""

    def __init__(self, jump: Callable[[float], None], on_stall: Callable[[], bool]) -> None:
        self._real = selectors.DefaultSelector()
        self._jump = jump
        self._on_stall = on_stall

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # No timer and nothing runnable: no simulated event can ever happen
            # again. Tell the owner once; after that wait for real input (Ctrl-C).
            if self._on_stall():
                return []
            return self._real.select(None)
        self._jump(timeout)
        return []

    def close(self) -> None:
        self._real.close()

    def get_map(self) -> Any:
        return self._real.get_map()


class _FifoTimerHandle(asyncio.TimerHandle):
    """A timer that, at equal due times, fires after the timers scheduled before it.

    asyncio orders timers by due time only, so equal times come out of its heap
    in an order that is fixed but not the order they were set; a simulation
    reads more naturally when two clients that finish at the same simulated
    instant report in the order they started.
    """

    __slots__ = ("_seq",)

    def __init__(self, seq: int, *args: Any) -> None:
        super().__init__(*args)
        self._seq = seq

    def __lt__(self, other: object) -> bool:
        if isinstance(other, _FifoTimerHandle):
            return (self.when(), self._seq) < (other.when(), other._seq)
        if isinstance(other, asyncio.TimerHandle):
            return super().__lt__(other)
        return NotImplemented


_Ts = TypeVarTuple("_Ts")
T = TypeVar("T")


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop on virtual time (see the module docstring).

    Attributes:
        stalled: set (from inside the loop) when nothing can happen any more.
    """

    def __init__(self) -> None:
        self._virtual_now = 0.0
        self._timer_seq = 0
        self.stalled = asyncio.Event()
        super().__init__(_JumpingSelector(self._advance, self._stall))

    def time(self) -> float:
        return self._virtual_now

    def call_at(
        self,
        when: float,
        callback: Callable[[*_Ts], object],
        *args: *_Ts,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        # As BaseEventLoop.call_at, with a FIFO tie-break between equal due times.
        self._check_closed()  # type: ignore[attr-defined]  # BaseEventLoop internals: not in typeshed
        self._timer_seq += 1
        timer = _FifoTimerHandle(self._timer_seq, when, callback, args, self, context)
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]  # as above
        timer._scheduled = True  # type: ignore[attr-defined]  # as above
        return timer

    def _advance(self, seconds: float) -> None:
        self._virtual_now += seconds

    def _stall(self) -> bool:
        if self.stalled.is_set():
            return False
        self.call_soon(self.stalled.set)
        return True


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run coroutine `main` to completion on a fresh `VirtualTimeLoop`."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)
