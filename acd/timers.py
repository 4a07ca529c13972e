"""Timers as data: a heap of deadlines the host turns into wake-ups.

The engine never sleeps. It files a deadline here; the host asks `next_deadline()` and calls the
engine back at (or after) that time; `pop_due(now)` yields what fell due, in deadline order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any, Final

from acd.timer_entry import Timer

__all__ = ["Timer", "TimerHeap"]

_push: Final = heapq.heappush
_pop: Final = heapq.heappop


class TimerHeap:
    """Deadlines in order; cancelled ones are dropped lazily."""

    __slots__ = ("_seq", "heap")

    def __init__(self) -> None:
        self.heap: list[Timer] = []  # read-only outside this class; heap[0][0] is the earliest
        self._seq = itertools.count()

    def add(self, at: float, fn: Callable[[Any], None], arg: Any = None) -> Timer:
        """File a deadline."""
        t = Timer((at, next(self._seq), fn, arg))
        _push(self.heap, t)
        return t

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
