"""The asyncio host of the engine: the one place the real clock is read.

The engine is driven only from the event loop's thread, one event at a time, and
`Engine.handle` never awaits, so there is exactly one writer and no lock: a submission runs to
completion before the loop does anything else. Outputs go, in order, to the sinks that
subscribed (agent gateway, switch link, journal, metrics, wallboard). The engine's next
deadline becomes a `loop.call_at` timer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import structlog

from acd.engine import Engine
from acd.errors import AcdError
from acd.events import Event, Output

Sink = Callable[[Sequence[Output]], None]

log = structlog.get_logger("acd.host")


class CoreHost:
    """Owns the engine on the event loop; everything reaches the engine through `submit`."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._sinks: list[Sink] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.submitted = 0

    def now(self) -> float:
        """The current time on the engine's clock (epoch seconds)."""
        return self.clock()

    def subscribe(self, sink: Sink) -> None:
        """Receive every batch of outputs, in order, synchronously after each step."""
        self._sinks.append(sink)

    def submit(self, event: Event) -> list[Output]:
        """Hand an event to the engine now; return its outputs (already dispatched).

        Raises the engine's `AcdError` when the event is refused; outputs of timers that fell
        due first are dispatched all the same.
        """
        self.submitted += 1
        try:
            outs = self.engine.handle(event, self.clock())
        except AcdError as err:
            if err.outputs:
                self._dispatch(err.outputs)
            self._arm()
            raise
        if outs:
            self._dispatch(outs)
        self._arm()
        return outs

    def tick(self) -> None:
        """Process whatever fell due (the timer callback; also safe to call any time)."""
        if self._timer is not None:
            self._timer.cancel()  # called from outside the timer: it must not fire later
        self._timer = None
        self._timer_at = None
        outs = self.engine.advance(self.clock())
        if outs:
            self._dispatch(outs)
        self._arm()

    def start(self) -> None:
        """Bind to the running loop and arm the first timer."""
        self._loop = asyncio.get_running_loop()
        self._arm()

    def stop(self) -> None:
        """Cancel the pending timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None

    def _dispatch(self, outs: Sequence[Output]) -> None:
        for sink in self._sinks:
            try:
                sink(outs)
            except Exception:  # a faulty sink must not stop the others or the engine
                log.exception("output sink failed", sink=getattr(sink, "__qualname__", sink))

    def _arm(self) -> None:
        """Make sure a timer fires by the engine's next deadline.

        A timer already due no later than that is left alone, even when the deadline moved
        later (an answered offer's ring timeout): its tick finds nothing due and arms the next.
        One spare tick is cheaper than a cancel and a new timer on nearly every event.
        """
        loop = self._loop
        if loop is None:
            return
        deadline = self.engine.next_deadline()
        if deadline is None:
            return
        armed = self._timer_at
        if armed is not None and armed <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        delay = max(0.0, deadline - self.clock())
        self._timer = loop.call_at(loop.time() + delay, self.tick)
