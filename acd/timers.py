"""Timers as data: a heap of deadlines the host turns into wake-ups.

The engine never sleeps. It files a deadline here; the host asks `next_deadline()` and calls the
engine back at (or after) that time; `pop_due(now)` yields what fell due, in deadline order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any


class Timer:
    """A cancellable deadline that calls `fn(arg)` when due."""

    __slots__ = ("arg", "at", "cancelled", "fn")

    def __init__(self, at: float, fn: Callable[[Any], None], arg: Any) -> None:
        self.at = at
        self.fn = fn
        self.arg = arg
        self.cancelled = False

    def cancel(self) -> None:
        """The timer will not fire."""
        self.cancelled = True


class TimerHeap:
    """Deadlines in order; cancelled ones are dropped lazily."""

    __slots__ = ("_seq", "heap")

    def __init__(self) -> None:
        self.heap: list[tuple[float, int, Timer]] = []  # read-only outside this class
        self._seq = itertools.count()

    def add(self, at: float, fn: Callable[[Any], None], arg: Any = None) -> Timer:
        """File a deadline."""
        t = Timer(at, fn, arg)
        heapq.heappush(self.heap, (at, next(self._seq), t))
        return t

    def next_deadline(self) -> float | None:
        """The earliest live deadline."""
        heap = self.heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> Timer | None:
        """The earliest live timer due at or before `now`, removed; None if none is due."""
        heap = self.heap
        while heap:
            at, _, t = heap[0]
            if t.cancelled:
                heapq.heappop(heap)
                continue
            if at > now:
                return None
            heapq.heappop(heap)
            return t
        return None

    def __len__(self) -> int:
        return sum(1 for _, _, t in self.heap if not t.cancelled)
