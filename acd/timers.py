"""Timers as data: a heap of deadlines the host turns into wake-ups.

The engine never sleeps. It files a deadline here; the host asks `next_deadline()` and calls the
engine back at (or after) that time; `pop_due(now)` yields what fell due, in deadline order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

_push = heapq.heappush
_pop = heapq.heappop


class Timer(list[Any]):
    """A cancellable deadline that calls `fn(arg)` when due.

    A timer is its own heap entry, `[at, seq, fn, arg]`: lists compare item by item in C and
    `seq` is unique, so the heap never compares `fn` or `arg`. (One is filed with every offer:
    a list costs less to build than an object with a Python `__init__` plus a tuple.)
    """

    __slots__ = ()

    @property
    def at(self) -> float:
        """When it falls due."""
        at: float = self[0]
        return at

    @property
    def fn(self) -> Callable[[Any], None] | None:
        """What it calls (None once cancelled)."""
        fn: Callable[[Any], None] | None = self[2]
        return fn

    @property
    def arg(self) -> Any:
        """The argument `fn` gets."""
        return self[3]

    @property
    def cancelled(self) -> bool:
        """Whether `cancel()` was called."""
        return self[2] is None

    def cancel(self) -> None:
        """The timer will not fire."""
        self[2] = self[3] = None  # also lets go of the argument while it waits in the heap


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
