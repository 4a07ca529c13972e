"""A queue per skill group, ordered by effective priority, then arrival.

Effective priority of a waiting call at time t, with C the group's priority ceiling:

    eff(t) = min(C, base + rate * (t - queued_at))

Below the ceiling, eff(t) = (base - rate * queued_at) + rate * t: the order among such calls
never changes, so one heap keyed by `base - rate * queued_at` holds them. A call reaches the
ceiling at queued_at + (C - base) / rate; from then on it is served in arrival order with every
other call at the ceiling, ahead of all calls below it. That is what bounds starvation: a call
reaching the ceiling cannot be passed by anything that arrives after it (docs/routing.md).
Removal is lazy.

A group's entries are split into sub-queues by (match key, minimum level): the match key is the
tuple of the call's values for the group's match attributes (e.g. its city), and the minimum
level is the skill level an agent needs (lower for calls widened in by a bullseye rule). An agent
looks only at the sub-queues it can serve.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator
from typing import Any, Final

MatchKey = tuple[str | None, ...]
PartKey = tuple[MatchKey, int]

_seq = itertools.count()
# Bound once: read on every push and pop (a compiled build reads Final names as constants).
_push: Final = heapq.heappush
_pop: Final = heapq.heappop


class Entry:
    """One call's place in one group's queue."""

    __slots__ = ("alive", "base", "call", "capped", "group", "level", "part", "queued_at", "seq")

    def __init__(self, call: Any, group: str, base: float, queued_at: float, level: int) -> None:
        self.call = call
        self.group = group
        self.base = base
        self.queued_at = queued_at
        self.level = level
        self.seq = next(_seq)
        self.alive = True
        self.capped = False
        self.part: SubQueue | None = None


class SubQueue:
    """Entries of one (match key, level) partition of a group."""

    __slots__ = ("ageing", "capped", "count", "due", "key", "level")

    def __init__(self, key: MatchKey, level: int) -> None:
        self.key = key
        self.level = level
        self.ageing: list[tuple[float, float, int, Entry]] = []
        self.capped: list[tuple[float, int, Entry]] = []  # at the ceiling: arrival order
        self.due: list[tuple[float, int, Entry]] = []  # when each entry reaches the ceiling
        self.count = 0


class GroupQueue:
    """Waiting entries of one skill group."""

    __slots__ = ("ages", "ceiling", "count", "group", "origin", "parts", "rate")

    def __init__(self, group: str, rate: float, ceiling: float, origin: float = 0.0) -> None:
        self.group = group
        # Keys are computed relative to `origin` and rounded to micro-points, so calls whose
        # effective priorities are equal really compare equal and go in arrival order.
        self.origin = origin
        self.rate = rate if rate > 0 else 0.0
        # Without ageing there is nothing to reach: priorities stay strict.
        self.ceiling = ceiling if self.rate > 0 else math.inf
        self.ages = self.ceiling != math.inf  # calls can reach the ceiling
        self.parts: dict[PartKey, SubQueue] = {}
        self.count = 0

    # -- changes ------------------------------------------------------------------------

    def push(self, entry: Entry, key: MatchKey, now: float) -> None:
        """Add an entry (its place is fixed by its base priority and queued_at)."""
        pk = (key, entry.level)
        part = self.parts.get(pk)
        if part is None:
            part = self.parts[pk] = SubQueue(key, entry.level)
        entry.part = part
        a = entry.queued_at
        part.count += 1
        self.count += 1
        if self.ages:
            reach = a + (self.ceiling - entry.base) / self.rate
            if reach <= now:
                # Already at the ceiling (a requeued or moved old call): file it there at
                # once instead of passing through the ageing and due heaps.
                entry.capped = True
                _push(part.capped, (a, entry.seq, entry))
                return
            _push(part.due, (reach, entry.seq, entry))
        order = round(entry.base - self.rate * (a - self.origin), 6)
        _push(part.ageing, (-order, a, entry.seq, entry))

    def remove(self, entry: Entry) -> None:
        """Take an entry out (lazily: its heap slots are skipped later)."""
        if not entry.alive:
            return
        entry.alive = False
        part = entry.part
        assert part is not None
        part.count -= 1
        self.count -= 1
        if part.count == 0:
            # Drop the partition so scans only meet live ones; stale slots go with it.
            del self.parts[(part.key, part.level)]
        elif len(part.ageing) + len(part.due) + len(part.capped) > 4 * part.count + 256:
            self._compact(part)

    def _compact(self, part: SubQueue) -> None:
        """Drop stale slots (removed or capped entries) from a partition's heaps.

        Every removal leaves its slots behind (in `ageing` and `due`, or in `capped`); in `due`
        one would wait until the call would have reached the ceiling, and then cost a pop.
        A live entry holds at most two slots, so rebuilding once there are more than four per
        live entry is linear in the heaps, a few steps per removal; the order of live entries is
        kept.
        """
        part.ageing = [it for it in part.ageing if it[3].alive and not it[3].capped]
        heapq.heapify(part.ageing)
        part.due = [it for it in part.due if it[2].alive and not it[2].capped]
        heapq.heapify(part.due)
        part.capped = [it for it in part.capped if it[2].alive]
        heapq.heapify(part.capped)

    # -- reading ------------------------------------------------------------------------

    def _settle(self, part: SubQueue, now: float) -> None:
        """Move calls that reached the ceiling by `now` to the capped heap."""
        due = part.due
        while due and due[0][0] <= now:
            _, _, e = _pop(due)
            if e.alive and not e.capped:
                e.capped = True
                _push(part.capped, (e.queued_at, e.seq, e))

    def head_of(self, part: SubQueue, now: float) -> Entry | None:
        """The best live entry of a partition at `now`."""
        if self.ages:
            if part.due and part.due[0][0] <= now:
                self._settle(part, now)
            capped = part.capped
            while capped and not capped[0][2].alive:
                _pop(capped)
            if capped:
                return capped[0][2]  # at the ceiling: nothing below can be ahead
        ageing = part.ageing
        while ageing and (not ageing[0][3].alive or ageing[0][3].capped):
            _pop(ageing)
        return ageing[0][3] if ageing else None

    def rank(self, e: Entry, now: float) -> tuple[float, float, int]:
        """Sort key at `now`: smaller is served first."""
        return (-self.effective(e, now), e.queued_at, e.seq)

    def effective(self, e: Entry, now: float) -> float:
        """Effective priority of an entry at `now`."""
        return round(min(self.ceiling, e.base + self.rate * max(0.0, now - e.queued_at)), 6)

    def head(self, now: float) -> Entry | None:
        """The best entry over all partitions."""
        best: Entry | None = None
        best_rank: tuple[float, float, int] | None = None
        for part in self.parts.values():
            e = self.head_of(part, now)
            if e is None:
                continue
            r = self.rank(e, now)
            if best_rank is None or r < best_rank:
                best, best_rank = e, r
        return best

    def entries(self) -> Iterator[Entry]:
        """Live entries, in no particular order."""
        for part in self.parts.values():
            seen: set[int] = set()
            for item in part.ageing:
                e = item[3]
                if e.alive and not e.capped:
                    seen.add(e.seq)
                    yield e
            for _, seq, e in part.capped:
                if e.alive and seq not in seen:
                    yield e

    def position(self, entry: Entry, now: float) -> int:
        """How many live entries of this group are served before `entry` (0 = next)."""
        mine = self.rank(entry, now)
        return sum(1 for e in self.entries() if e is not entry and self.rank(e, now) < mine)

    def oldest(self) -> float | None:
        """queued_at of the longest-waiting live entry."""
        return min((e.queued_at for e in self.entries()), default=None)
