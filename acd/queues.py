"""A queue per skill group, ordered by effective priority, then arrival.

Effective priority of a waiting call at time t, with C the group's priority ceiling:

    eff(t) = min(C, base + rate * (t - queued_at))

Below the ceiling, eff(t) = (base - rate * queued_at) + rate * t: the order among such calls
never changes. Calls of the same base priority are therefore served, and reach the ceiling, in
arrival order: each partition keeps a bucket per base priority, a list in arrival order whose
head is its best call, and the best call below the ceiling is the best of the buckets' heads
(keyed by `base - rate * queued_at`). Taking a call, filing a new one, and settling calls that
reached the ceiling are O(1); choosing is O(k) in the distinct base priorities waiting in the
partition (brands and VIP levels: a handful), with no heap. A call filed out of arrival order
(requeued after a missed offer, moved, restored) is inserted at its place in its bucket.

A call reaches the ceiling at queued_at + (C - base) / rate; from then on it is served in
arrival order with every other call at the ceiling, ahead of all calls below it. That is what
bounds starvation: a call reaching the ceiling cannot be passed by anything that arrives after
it (docs/routing.md). Calls at the ceiling are in a heap by arrival. Removal is lazy.

Keys are single integers, not tuples: an integer compares in one C call where a tuple compares
item by item. A key packs (priority in micro-points, arrival in microseconds, entry number), so
arrival order among calls of equal priority is kept to the microsecond (calls arriving within
the same microsecond go by entry number).

A group's entries are split into sub-queues by (match key, minimum level): the match key is the
tuple of the call's values for the group's match attributes (e.g. its city), and the minimum
level is the skill level an agent needs (lower for calls widened in by a bullseye rule). An agent
looks only at the sub-queues it can serve.
"""

from __future__ import annotations

import heapq
import itertools
import math
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, Final

MatchKey = tuple[str | None, ...]
PartKey = tuple[MatchKey, int]

_seq = itertools.count()
# Bound once: read on every push and pop (a compiled build reads Final names as constants).
_push: Final = heapq.heappush
_pop: Final = heapq.heappop

# Layout of a rank key: [priority key][arrival: TIME_BITS][entry number: SEQ_BITS]; `tie` is
# its low part, the capped heap's key.
SEQ_BITS: Final = 40
SEQ_MASK: Final = (1 << SEQ_BITS) - 1
TIME_BITS: Final = 48
TIE_BITS: Final = TIME_BITS + SEQ_BITS
TIME_MAX: Final = (1 << TIME_BITS) - 1
TIME_BIAS: Final = 1 << (TIME_BITS - 1)  # arrivals before the queue's origin (restored calls)


class Entry:
    """One call's place in one group's queue."""

    __slots__ = (
        "alive", "base", "bucket", "call", "capped", "group", "level", "order", "part", "queue",
        "queued_at", "reach", "seq", "tie",
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
        self.bucket: Bucket | None = None  # its bucket while below the ceiling
        # Set when pushed (they depend on the queue): (arrival, seq) packed; -(base - rate *
        # (queued_at - origin)) in micro-points, its key below the ceiling before `tie` (a float
        # holds it exactly, and compares without a call); when it reaches the ceiling.
        self.tie = 0
        self.order = 0.0
        self.reach = math.inf


class Bucket:
    """Entries of one base priority in a partition, in arrival order; items[head:] are filed."""

    __slots__ = ("base", "dead", "head", "items")

    def __init__(self, base: float) -> None:
        self.base = base
        self.items: list[Entry] = []
        self.head = 0
        self.dead = 0  # removed entries behind the head, not yet dropped

    def file(self, entry: Entry) -> None:
        """Add at its place by arrival (at the back, unless it arrived earlier)."""
        items = self.items
        if len(items) == self.head or items[-1].tie < entry.tie:
            items.append(entry)
            return
        lo, hi = self.head, len(items)
        tie = entry.tie
        while lo < hi:
            mid = (lo + hi) // 2
            if items[mid].tie < tie:
                lo = mid + 1
            else:
                hi = mid
        items.insert(lo, entry)

    def compact(self) -> None:
        """Drop the consumed front and the removed entries."""
        self.items = [e for e in self.items[self.head :] if e.alive and not e.capped]
        self.head = 0
        self.dead = 0


class SubQueue:
    """Entries of one (match key, level) partition of a group."""

    __slots__ = ("bucket_list", "buckets", "capped", "capped_live", "count", "key", "level")

    def __init__(self, key: MatchKey, level: int) -> None:
        self.key = key
        self.level = level
        self.buckets: dict[float, Bucket] = {}  # base priority -> its calls below the ceiling
        self.bucket_list: list[Bucket] = []  # the same buckets, to scan
        self.capped: list[int] = []  # at the ceiling, keys (arrival, seq): arrival order
        # Live capped key -> its entry; a key missing here is stale.
        self.capped_live: dict[int, Entry] = {}
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
            entry.reach = a + (self.ceiling - entry.base) / self.rate
            if entry.reach <= now:
                # Already at the ceiling (a requeued or moved old call): file it there at once.
                self._cap(part, entry)
                return
        entry.order = -float(round((entry.base - self.rate * (a - self.origin)) * 1e6))
        bucket = part.buckets.get(entry.base)
        if bucket is None:
            bucket = part.buckets[entry.base] = Bucket(entry.base)
            part.bucket_list.append(bucket)
        entry.bucket = bucket
        bucket.file(entry)

    def _cap(self, part: SubQueue, entry: Entry) -> None:
        entry.capped = True
        entry.bucket = None
        part.capped_live[entry.tie] = entry
        _push(part.capped, entry.tie)

    def remove(self, entry: Entry) -> None:
        """Take an entry out (lazily: its place is skipped later)."""
        if not entry.alive:
            return
        entry.alive = False
        part = entry.part
        assert part is not None
        if entry.capped:
            tie = entry.tie
            del part.capped_live[tie]
            capped = part.capped
            if capped[0] == tie:
                _pop(capped)  # the usual case, the head was taken: its key goes now
            elif len(capped) > 4 * len(part.capped_live) + 256:
                part.capped = list(part.capped_live)
                heapq.heapify(part.capped)
        else:
            bucket = entry.bucket
            assert bucket is not None
            items = bucket.items
            if items[bucket.head] is entry:
                bucket.head += 1  # the usual case, the head was taken
                if bucket.head == len(items):
                    _drop(part, bucket)
                elif bucket.head > 64 and 2 * bucket.head > len(items):
                    bucket.compact()
            else:
                bucket.dead += 1
                if bucket.dead > len(items) - bucket.head - bucket.dead + 64:
                    bucket.compact()
        part.count -= 1
        self.count -= 1
        if part.count == 0:
            # Drop the partition so scans only meet live ones.
            del self.parts[(part.key, part.level)]
            self._parts_changed()

    def _parts_changed(self) -> None:
        parts = self.parts
        self.only = next(iter(parts.values())) if len(parts) == 1 else None

    # -- reading ------------------------------------------------------------------------

    def head_of(self, part: SubQueue, now: float) -> Entry | None:
        """The best live entry of a partition at `now`.

        One pass over the buckets drops removed heads, moves heads that reached the ceiling
        to the capped heap, and keeps the best remaining head.
        """
        best: Entry | None = None
        ages = self.ages
        empty: list[Bucket] | None = None
        for bucket in part.bucket_list:
            items = bucket.items
            i = bucket.head
            n = len(items)
            head: Entry | None = None
            while i < n:
                e = items[i]
                if e.alive:
                    if not (ages and e.reach <= now):
                        head = e
                        break
                    self._cap(part, e)
                else:
                    bucket.dead -= 1
                i += 1
            bucket.head = i
            if head is None:
                if empty is None:
                    empty = []
                empty.append(bucket)
            elif (
                best is None
                or head.order < best.order
                or (head.order == best.order and head.tie < best.tie)
            ):
                best = head
        if empty is not None:
            for bucket in empty:
                _drop(part, bucket)
        capped = part.capped
        if capped:
            live = part.capped_live
            while capped:
                top = live.get(capped[0])
                if top is not None:
                    return top  # at the ceiling: nothing below can be ahead
                _pop(capped)
        return best

    def rank(self, e: Entry, now: float) -> int:
        """Sort key at `now`: smaller is served first (in the buckets' own layout)."""
        return (-round(self.effective(e, now) * 1e6) << TIE_BITS) | e.tie

    def effective(self, e: Entry, now: float) -> float:
        """Effective priority of an entry at `now`."""
        return round(min(self.ceiling, e.base + self.rate * max(0.0, now - e.queued_at)), 6)

    def head(self, now: float) -> Entry | None:
        """The best entry over all partitions."""
        best: Entry | None = None
        best_rank = 0
        for part in list(self.parts.values()):
            e = self.head_of(part, now)
            if e is None:
                continue
            r = self.rank(e, now)
            if best is None or r < best_rank:
                best, best_rank = e, r
        return best

    def entries(self) -> Iterator[Entry]:
        """Live entries, in no particular order."""
        for part in list(self.parts.values()):
            for bucket in list(part.buckets.values()):
                for e in bucket.items[bucket.head :]:
                    if e.alive and not e.capped:
                        yield e
            yield from list(part.capped_live.values())

    def slots(self) -> int:
        """Places held, removed entries not yet dropped included (bounded by the live ones)."""
        held = 0
        for part in self.parts.values():
            held += len(part.capped) + sum(len(b.items) - b.head for b in part.buckets.values())
        return held

    def position(self, entry: Entry, now: float) -> int:
        """How many live entries of this group are served before `entry` (0 = next)."""
        mine = self.rank(entry, now)
        return sum(1 for e in self.entries() if e is not entry and self.rank(e, now) < mine)

    def positions(self, entries: list[Entry], now: float) -> list[int]:
        """`position` of several live entries at once: one pass over the queue and a sort,
        where a pass per entry would make a sweep of announcements quadratic in the queue."""
        if len(entries) == 1:
            return [self.position(entries[0], now)]
        ranks = sorted([self.rank(e, now) for e in self.entries()])
        # ranks are unique (the entry number is in them): those below an entry's are ahead
        return [bisect_left(ranks, self.rank(e, now)) for e in entries]

    def oldest(self) -> float | None:
        """queued_at of the longest-waiting live entry."""
        return min((e.queued_at for e in self.entries()), default=None)


def _drop(part: SubQueue, bucket: Bucket) -> None:
    """Forget an empty bucket."""
    del part.buckets[bucket.base]
    part.bucket_list.remove(bucket)
