"""Timers as data: a heap of deadlines the host turns into wake-ups.

The engine never sleeps. It files a deadline here; the host asks `next_deadline()` and calls the
engine back at (or after) that time; `pop_due(now)` yields what fell due, in deadline order.

A timer is a plain list `[at, seq, fn, arg]`, filed in a heap or in a lane of timers with the
same delay: lists compare item by item in C and `seq` is unique, so the heap never compares `fn`
or `arg`. One is filed with every offer, and a list display costs a quarter of building an
object (or a list subclass). Read it with the functions below; `cancel` clears `fn` and `arg`,
and the timer is dropped lazily.
"""

from __future__ import annotations

import heapq
import math
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


class Lane:
    """Timers filed a fixed delay after a clock that never goes back: due in filing order."""

    __slots__ = ("delay", "head", "items", "last")

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.items: list[Timer] = []  # items[head:] are filed, the earliest first
        self.head = 0
        self.last = -math.inf  # the latest deadline filed


class TimerHeap:
    """Deadlines in order; cancelled ones are dropped lazily.

    Most timers (ring timeouts) are filed a fixed delay after the engine's clock, which never
    goes back: those with the same delay fall due in filing order, so `add_after` queues them
    in a lane per delay (an append, no heap compares) and only the lanes' heads are compared.

    A cancelled timer (an offer answered long before its ring timeout) would otherwise stay
    filed until its deadline: once the heap or the lanes hold `sweep_min` timers and have
    doubled since they were last swept, they are rebuilt without them if they are at least half
    of them. That costs O(1) per timer, amortised (the floor keeps rebuilding the live ones
    rare), and keeps them within four times the live timers or `sweep_min`.
    """

    __slots__ = (
        "_lane_size", "_lane_sweep_at", "_lanes", "_seq", "_sweep_at", "_sweep_min", "heap",
        "soonest",
    )  # fmt: skip

    def __init__(self, sweep_min: int = 1 << 16) -> None:
        self.heap: list[Timer] = []
        self._lanes: dict[float, Lane] = {}
        self._lane_size = 0
        # No live timer falls due before this (cancelling one does not raise it): a host may
        # skip `pop_due` while its clock is below it.
        self.soonest = math.inf
        self._seq = 0  # filing order: breaks ties between equal deadlines
        self._sweep_min = sweep_min
        self._sweep_at = sweep_min
        self._lane_sweep_at = sweep_min

    def add(self, at: float, fn: Callable[[Any], None], arg: Any = None) -> Timer:
        """File a deadline."""
        seq = self._seq = self._seq + 1
        t: Timer = [at, seq, fn, arg]
        heap = self.heap
        _push(heap, t)
        if at < self.soonest:
            self.soonest = at
        if len(heap) >= self._sweep_at:
            self._sweep()
        return t

    def lane(self, delay: float) -> Lane:
        """The lane for timers filed `delay` after the clock (made on first use)."""
        lane = self._lanes.get(delay)
        if lane is None:
            lane = self._lanes[delay] = Lane(delay)
        return lane

    def add_after(
        self, lane: Lane, now: float, fn: Callable[[Any], None], arg: Any = None
    ) -> Timer:
        """File a deadline `lane.delay` after `now`, for a caller whose `now` never goes back."""
        at = now + lane.delay
        if at < lane.last:
            return self.add(at, fn, arg)  # out of order after all: the heap keeps it right
        lane.last = at
        seq = self._seq = self._seq + 1
        t: Timer = [at, seq, fn, arg]
        lane.items.append(t)
        if at < self.soonest:
            self.soonest = at
        self._lane_size += 1
        if self._lane_size >= self._lane_sweep_at:
            self._sweep_lanes()
        return t

    def _sweep(self) -> None:
        heap = self.heap
        live = [t for t in heap if t[2] is not None]
        if 2 * len(live) <= len(heap):
            heap[:] = live  # in place: the engine holds this list
            heapq.heapify(heap)
        self._sweep_at = max(self._sweep_min, 2 * len(heap))

    def _sweep_lanes(self) -> None:
        lanes = self._lanes.values()
        live = sum(1 for lane in lanes for t in lane.items[lane.head :] if t[2] is not None)
        if 2 * live <= self._lane_size:
            for lane in lanes:
                lane.items = [t for t in lane.items[lane.head :] if t[2] is not None]
                lane.head = 0
            self._lane_size = live
        self._lane_sweep_at = max(self._sweep_min, 2 * self._lane_size)

    def _first(self) -> tuple[Timer | None, Lane | None]:
        """The earliest live timer and the lane holding it (None: the heap); dropping the
        cancelled ones in front."""
        heap = self.heap
        while heap and heap[0][2] is None:
            _pop(heap)
        best = heap[0] if heap else None
        where: Lane | None = None
        for lane in self._lanes.values():
            items = lane.items
            while lane.head < len(items) and items[lane.head][2] is None:
                self._advance(lane)
            if lane.head < len(items):
                t = items[lane.head]
                if best is None or t[0] < best[0] or (t[0] == best[0] and t[1] < best[1]):
                    best, where = t, lane
        self.soonest = math.inf if best is None else best[0]
        return best, where

    def _advance(self, lane: Lane) -> None:
        """Drop a lane's first timer (the consumed front is cut off now and then)."""
        lane.head += 1
        self._lane_size -= 1
        if lane.head >= 1024 and 2 * lane.head >= len(lane.items):
            del lane.items[: lane.head]
            lane.head = 0

    def next_deadline(self) -> float | None:
        """The earliest live deadline."""
        t, _ = self._first()
        return None if t is None else t[0]

    def pop_due(self, now: float) -> Timer | None:
        """The earliest live timer due at or before `now`, removed; None if none is due."""
        if now < self.soonest:
            return None
        t, lane = self._first()
        if t is None or t[0] > now:
            return None
        if lane is None:
            _pop(self.heap)
        else:
            self._advance(lane)
        return t

    def __len__(self) -> int:
        lanes = sum(
            1 for lane in self._lanes.values() for t in lane.items[lane.head :] if t[2] is not None
        )
        return lanes + sum(1 for t in self.heap if t[2] is not None)
