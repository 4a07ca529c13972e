"""A queue per skill group, ordered by effective priority, then arrival.

Effective priority of a waiting call at time t, with C the group's priority ceiling:

    eff(t) = min(C, base + rate * (t - queued_at))

Below the ceiling, eff(t) = (base - rate * queued_at) + rate * t: the order among such calls
never changes, so one heap keyed by `base - rate * queued_at` holds them. A call reaches the
ceiling at queued_at + (C - base) / rate; from then on it is served in arrival order with every
other call at the ceiling, ahead of all calls below it. That is what bounds starvation: a call
reaching the ceiling cannot be passed by anything that arrives after it (docs/routing.md).
Removal is lazy.

Heap slots of the ageing and capped heaps are single integers, not tuples: an integer compares
in one C call where a tuple compares item by item, and a pop is several compares. A slot packs
(priority in micro-points, arrival in microseconds, entry number) into one integer, so arrival
order among calls of equal priority is kept to the microsecond (calls arriving within the same
microsecond go by entry number). Each partition maps its heaps' live slots to their entries: a
slot not in the map is stale.

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

# Layout of a heap slot: [priority key][arrival: TIME_BITS][entry number: SEQ_BITS].
SEQ_BITS: Final = 40
SEQ_MASK: Final = (1 << SEQ_BITS) - 1
TIME_BITS: Final = 48
TIE_BITS: Final = TIME_BITS + SEQ_BITS
TIME_MAX: Final = (1 << TIME_BITS) - 1
TIME_BIAS: Final = 1 << (TIME_BITS - 1)  # arrivals before the queue's origin (restored calls)


class Entry:
    """One call's place in one group's queue."""

    __slots__ = (
        "alive", "base", "call", "capped", "group", "level", "part", "queue", "queued_at", "seq",
        "slot", "tie",
    )  # fmt: skip

    def __init__(self, call: Any, group: str, base: float, queued_at: float, level: int) -> None:
        self.call = call
        self.group = group
        self.base = base
        self.queued_at = queued_at
        self.level = level
        self.seq = next(_seq) & SEQ_MASK
        self.alive = True
        self.capped = False
        self.part: SubQueue | None = None
        self.queue: GroupQueue | None = None  # the queue it was pushed to
        self.tie = 0  # (arrival, seq) packed, set when pushed (it depends on the queue's origin)
        self.slot = 0  # its live slot: in `ageing`, or in `capped` once capped


class SubQueue:
    """Entries of one (match key, level) partition of a group."""

    __slots__ = ("ageing", "ageing_live", "capped", "capped_live", "count", "due", "key", "level")

    def __init__(self, key: MatchKey, level: int) -> None:
        self.key = key
        self.level = level
        self.ageing: list[int] = []  # slots: (-order, arrival, seq) packed
        self.capped: list[int] = []  # at the ceiling, slots (arrival, seq): arrival order
        # Live slot -> its entry; a slot missing here is stale (removed, or moved to capped).
        self.ageing_live: dict[int, Entry] = {}
        self.capped_live: dict[int, Entry] = {}
        self.due: list[tuple[float, int, Entry]] = []  # when each entry reaches the ceiling
        self.count = 0


class GroupQueue:
    """Waiting entries of one skill group."""

    __slots__ = ("ages", "ceiling", "count", "group", "only", "origin", "parts", "rate")

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
        self.only: SubQueue | None = None  # the partition, while there is exactly one
        self.count = 0

    # -- changes ------------------------------------------------------------------------

    def push(self, entry: Entry, key: MatchKey, now: float) -> None:
        """Add an entry (its place is fixed by its base priority and queued_at)."""
        pk = (key, entry.level)
        part = self.parts.get(pk)
        if part is None:
            part = self.parts[pk] = SubQueue(key, entry.level)
            self._parts_changed()
        entry.part = part
        entry.queue = self
        a = entry.queued_at
        at = round((a - self.origin) * 1e6) + TIME_BIAS
        tie = (min(max(at, 0), TIME_MAX) << SEQ_BITS) | entry.seq
        entry.tie = tie
        part.count += 1
        self.count += 1
        if self.ages:
            reach = a + (self.ceiling - entry.base) / self.rate
            if reach <= now:
                # Already at the ceiling (a requeued or moved old call): file it there at
                # once instead of passing through the ageing and due heaps.
                entry.capped = True
                entry.slot = tie
                part.capped_live[tie] = entry
                _push(part.capped, tie)
                return
            _push(part.due, (reach, entry.seq, entry))
        order = round((entry.base - self.rate * (a - self.origin)) * 1e6)
        slot = (-order << TIE_BITS) | tie
        entry.slot = slot
        part.ageing_live[slot] = entry
        _push(part.ageing, slot)

    def remove(self, entry: Entry) -> None:
        """Take an entry out (lazily: its heap slots are skipped later)."""
        if not entry.alive:
            return
        entry.alive = False
        part = entry.part
        assert part is not None
        slot = entry.slot
        if entry.capped:
            del part.capped_live[slot]
            heap = part.capped
        else:
            del part.ageing_live[slot]
            heap = part.ageing
        if heap[0] == slot:
            _pop(heap)  # the usual case, the head was taken: its slot goes now, not later
        part.count -= 1
        self.count -= 1
        if part.count == 0:
            # Drop the partition so scans only meet live ones; stale slots go with it.
            del self.parts[(part.key, part.level)]
            self._parts_changed()
        elif len(part.ageing) + len(part.due) + len(part.capped) > 4 * part.count + 256:
            self._compact(part)

    def _parts_changed(self) -> None:
        parts = self.parts
        self.only = next(iter(parts.values())) if len(parts) == 1 else None

    def _compact(self, part: SubQueue) -> None:
        """Drop stale slots (removed or capped entries) from a partition's heaps.

        Every removal leaves its slots behind (in `ageing` and `due`, or in `capped`); in `due`
        one would wait until the call would have reached the ceiling, and then cost a pop.
        A live entry holds at most two slots, so rebuilding once there are more than four per
        live entry is linear in the heaps, a few steps per removal; the order of live entries is
        kept.
        """
        part.ageing = list(part.ageing_live)
        heapq.heapify(part.ageing)
        part.due = [it for it in part.due if it[2].alive and not it[2].capped]
        heapq.heapify(part.due)
        part.capped = list(part.capped_live)
        heapq.heapify(part.capped)

    # -- reading ------------------------------------------------------------------------

    def _settle(self, part: SubQueue, now: float) -> None:
        """Move calls that reached the ceiling by `now` to the capped heap."""
        due = part.due
        while due and due[0][0] <= now:
            _, _, e = _pop(due)
            if e.alive and not e.capped:
                e.capped = True
                del part.ageing_live[e.slot]
                e.slot = e.tie
                part.capped_live[e.tie] = e
                _push(part.capped, e.tie)

    def head_of(self, part: SubQueue, now: float) -> Entry | None:
        """The best live entry of a partition at `now`."""
        if self.ages:
            if part.due and part.due[0][0] <= now:
                self._settle(part, now)
            capped = part.capped
            if capped:
                live = part.capped_live
                while capped:
                    e = live.get(capped[0])
                    if e is not None:
                        return e  # at the ceiling: nothing below can be ahead
                    _pop(capped)
        ageing = part.ageing
        live = part.ageing_live
        while ageing:
            e = live.get(ageing[0])
            if e is not None:
                return e
            _pop(ageing)
        return None

    def rank(self, e: Entry, now: float) -> int:
        """Sort key at `now`: smaller is served first (in the heaps' own layout)."""
        return (-round(self.effective(e, now) * 1e6) << TIE_BITS) | e.tie

    def effective(self, e: Entry, now: float) -> float:
        """Effective priority of an entry at `now`."""
        return round(min(self.ceiling, e.base + self.rate * max(0.0, now - e.queued_at)), 6)

    def head(self, now: float) -> Entry | None:
        """The best entry over all partitions."""
        best: Entry | None = None
        best_rank = 0
        for part in self.parts.values():
            e = self.head_of(part, now)
            if e is None:
                continue
            r = self.rank(e, now)
            if best is None or r < best_rank:
                best, best_rank = e, r
        return best

    def entries(self) -> Iterator[Entry]:
        """Live entries, in no particular order."""
        for part in self.parts.values():
            yield from list(part.ageing_live.values())
            yield from list(part.capped_live.values())

    def position(self, entry: Entry, now: float) -> int:
        """How many live entries of this group are served before `entry` (0 = next)."""
        mine = self.rank(entry, now)
        return sum(1 for e in self.entries() if e is not entry and self.rank(e, now) < mine)

    def oldest(self) -> float | None:
        """queued_at of the longest-waiting live entry."""
        return min((e.queued_at for e in self.entries()), default=None)
