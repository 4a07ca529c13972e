"""Timers as data: a heap of deadlines the host turns into wake-ups.

The engine never sleeps. It files a deadline here; the host asks `next_deadline()` and calls the
engine back at (or after) that time; `pop_due(now)` yields what fell due, in deadline order.

A timer is its own heap entry, a plain list `[at, seq, fn, arg]`: lists compare item by item in
C and `seq` is unique, so the heap never compares `fn` or `arg`. One is filed with every offer,
and a list display costs a quarter of building an object (or a list subclass). Read it with
the functions below; `cancel` clears `fn` and `arg`, and the heap drops it lazily.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any, Final

Timer = list[Any]  # [at, seq, fn, arg]; fn and arg are None once cancelled

_push: Final = heapq.heappush
_pop: Final = heapq.heappop


def cancel(t: Timer) -> None:
    """The timer will not fire (and lets go of its argument while it waits in the heap)."""
    t[2] = t[3] = None


def deadline(t: Timer) -> float:
    """When a timer falls due."""
    at: float = t[0]
    return at


def cancelled(t: Timer) -> bool:
    """Whether `cancel` was called."""
    return t[2] is None


class TimerHeap:
    """Deadlines in order; cancelled ones are dropped lazily.

    A cancelled timer (an offer answered long before its ring timeout) would otherwise stay
    filed until its deadline: once the heap holds `sweep_min` timers and has doubled since it
    was last swept, it is rebuilt without them if they are at least half of it. That costs
    O(1) per timer, amortised (the floor keeps rebuilding the live ones rare), and keeps the
    heap within four times the live timers or `sweep_min`.
    """

    __slots__ = ("_seq", "_sweep_at", "_sweep_min", "heap")

    def __init__(self, sweep_min: int = 1 << 16) -> None:
        self.heap: list[Timer] = []  # read-only outside this class; heap[0][0] is the earliest
        self._seq = 0  # filing order: breaks ties between equal deadlines
        self._sweep_min = sweep_min
        self._sweep_at = sweep_min

    def add(self, at: float, fn: Callable[[Any], None], arg: Any = None) -> Timer:
        """File a deadline."""
        seq = self._seq = self._seq + 1
        t: Timer = [at, seq, fn, arg]
        heap = self.heap
        _push(heap, t)
        if len(heap) >= self._sweep_at:
            self._sweep()
        return t

    def _sweep(self) -> None:
        heap = self.heap
        live = [t for t in heap if t[2] is not None]
        if 2 * len(live) <= len(heap):
            heap[:] = live  # in place: the engine holds this list
            heapq.heapify(heap)
        self._sweep_at = max(self._sweep_min, 2 * len(heap))

    def next_deadline(self) -> float | None:
        """The earliest live deadline."""
        heap = self.heap
        while heap and heap[0][2] is None:
            _pop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest live timer due at or before `now`, removed; None if none is due."""
        heap = self.heap
        while heap:
            t = heap[0]
            if t[2] is None:
                _pop(heap)
                continue
            if t[0] > now:
                return None
            _pop(heap)
            return t
        return None

    def __len__(self) -> int:
        return sum(1 for t in self.heap if t[2] is not None)
