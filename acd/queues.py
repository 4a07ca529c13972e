"""A queue per skill group, ordered by effective priority, then arrival.

Effective priority of a waiting call at time t:

    eff(t) = base + min(cap, rate * (t - queued_at))

Before a call reaches the cap, eff(t) = (base - rate * queued_at) + rate * t: the order among
uncapped calls never changes, so one heap keyed by `base - rate * queued_at` holds them. Once
capped (at queued_at + cap / rate, in arrival order) a call's eff is the constant base + cap and
it moves to a second heap. The head is the better of the two heap tops. Removal is lazy.

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
from typing import Any

MatchKey = tuple[str | None, ...]
PartKey = tuple[MatchKey, int]

_seq = itertools.count()


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
        self.capped: list[tuple[float, float, int, Entry]] = []
        self.due: list[tuple[float, int, Entry]] = []  # capping order (= arrival order)
        self.count = 0


class GroupQueue:
    """Waiting entries of one skill group."""

    __slots__ = ("cap", "cap_after", "count", "group", "parts", "rate")

    def __init__(self, group: str, rate: float, cap: float) -> None:
        self.group = group
        self.rate = rate if rate > 0 else 0.0
        self.cap = cap
        # Seconds after which a call reaches the cap; inf when ageing never caps.
        self.cap_after = cap / self.rate if self.rate > 0 and math.isfinite(cap) else math.inf
        self.parts: dict[PartKey, SubQueue] = {}
        self.count = 0

    # -- changes ------------------------------------------------------------------------

    def push(self, entry: Entry, key: MatchKey) -> None:
        """Add an entry (its place is fixed by its base priority and queued_at)."""
        pk = (key, entry.level)
        part = self.parts.get(pk)
        if part is None:
            part = self.parts[pk] = SubQueue(key, entry.level)
        entry.part = part
        a = entry.queued_at
        heapq.heappush(part.ageing, (-(entry.base - self.rate * a), a, entry.seq, entry))
        if self.cap_after != math.inf:
            heapq.heappush(part.due, (a, entry.seq, entry))
        part.count += 1
        self.count += 1

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

    # -- reading ------------------------------------------------------------------------

    def _settle(self, part: SubQueue, now: float) -> None:
        """Move calls that reached the cap by `now` to the capped heap."""
        limit = now - self.cap_after
        due = part.due
        while due and due[0][0] <= limit:
            _, _, e = heapq.heappop(due)
            if e.alive and not e.capped:
                e.capped = True
                heapq.heappush(part.capped, (-(e.base + self.cap), e.queued_at, e.seq, e))

    def head_of(self, part: SubQueue, now: float) -> Entry | None:
        """The best live entry of a partition at `now`."""
        if self.cap_after != math.inf:
            self._settle(part, now)
        ageing = part.ageing
        while ageing and (not ageing[0][3].alive or ageing[0][3].capped):
            heapq.heappop(ageing)
        capped = part.capped
        while capped and not capped[0][3].alive:
            heapq.heappop(capped)
        if not ageing:
            return capped[0][3] if capped else None
        a = ageing[0][3]
        if not capped:
            return a
        c = capped[0][3]
        return a if self.rank(a, now) < self.rank(c, now) else c

    def rank(self, e: Entry, now: float) -> tuple[float, float, int]:
        """Sort key at `now`: smaller is served first."""
        return (-self.effective(e, now), e.queued_at, e.seq)

    def effective(self, e: Entry, now: float) -> float:
        """Effective priority of an entry at `now`."""
        return e.base + min(self.cap, self.rate * max(0.0, now - e.queued_at))

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
            for heap in (part.ageing, part.capped):
                for item in heap:
                    e = item[3]
                    if e.alive and e.seq not in seen:
                        seen.add(e.seq)
                        yield e

    def position(self, entry: Entry, now: float) -> int:
        """How many live entries of this group are served before `entry` (0 = next)."""
        mine = self.rank(entry, now)
        return sum(1 for e in self.entries() if e is not entry and self.rank(e, now) < mine)

    def oldest(self) -> float | None:
        """queued_at of the longest-waiting live entry."""
        return min((e.queued_at for e in self.entries()), default=None)
