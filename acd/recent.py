"""The screen pop's history from memory: each caller's latest contacts, kept by the journal from
the call records it writes, so an offer costs no store query.

Two parts, both bounded:

- a cache of the latest `depth` contacts of up to `capacity` numbers (least recently used
  dropped first); an entry is exact: it is filled from the store on a miss and every call
  record the journal writes after that is put at its front;
- a Bloom filter of every number with a contact in the store (filled from the store at
  start, then from each record written). A number it has never seen has no history: no query.
  A false positive or a number dropped from the cache costs one query, as before.

A query sees committed records only; the contacts written lately (kept for the last `fresh`
numbers, far more than the store's writer ever holds back) are merged into its answer.

Until `load` has run (a journal used without being started) every miss goes to the store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from acd.store.records import CallRecord

Contact = Mapping[str, Any]


def contact(r: CallRecord) -> dict[str, Any]:
    """What the screen pop shows of one past call."""
    return {
        "call_id": r.call_id,
        "at": r.queued_at if r.queued_at is not None else r.ended_at,
        "ended_at": r.ended_at,
        "group": r.group,
        "cause": r.cause,
        "agent": r.agents[-1] if r.agents else "",
        "talk": r.talk,
    }


class RecentContacts:
    """Per-number recent contacts, newest first (see the module docstring)."""

    def __init__(
        self, *, depth: int = 20, capacity: int = 20_000, fresh: int = 4096, bits: int = 1 << 24
    ) -> None:
        self.depth = depth
        self.capacity = capacity
        self.cache: OrderedDict[str, list[Contact]] = OrderedDict()
        self.fresh: OrderedDict[str, list[Contact]] = OrderedDict()  # written lately
        self.fresh_limit = fresh
        self.mask = bits - 1  # a power of two
        self.bloom: bytearray | None = None  # None until loaded: every miss asks the store
        self.queries = 0  # store queries made (misses that the filter could not settle)

    def _bits(self, number: str) -> tuple[int, int]:
        h = hash(number)
        return h & self.mask, (h >> 32) & self.mask

    def _seen(self, number: str) -> bool:
        bloom = self.bloom
        if bloom is None:
            return True
        a, b = self._bits(number)
        return bool(bloom[a >> 3] & (1 << (a & 7))) and bool(bloom[b >> 3] & (1 << (b & 7)))

    def _mark(self, number: str) -> None:
        bloom = self.bloom
        if bloom is not None:
            a, b = self._bits(number)
            bloom[a >> 3] |= 1 << (a & 7)
            bloom[b >> 3] |= 1 << (b & 7)

    def load(self, numbers: Iterable[str]) -> None:
        """Every number with a contact in the store (start); from now on a number never seen
        has no history."""
        self.bloom = bytearray((self.mask + 1) >> 3)
        for n in numbers:
            self._mark(n)

    def add(self, r: CallRecord) -> None:
        """A call record being written."""
        number = r.caller
        if not number:
            return
        c = contact(r)
        entry = self.cache.get(number)
        if entry is not None:
            entry.insert(0, c)
            del entry[self.depth :]
        elif self.bloom is not None and not self._seen(number):
            self._put(number, [c])  # its first contact: the entry is exact
        self._mark(number)
        fresh = self.fresh
        mine = fresh.pop(number, None)
        if mine is None:
            mine = []
        mine.insert(0, c)
        del mine[self.depth :]
        fresh[number] = mine
        if len(fresh) > self.fresh_limit:
            fresh.popitem(last=False)

    def _put(self, number: str, entry: list[Contact]) -> None:
        cache = self.cache
        cache[number] = entry
        if len(cache) > self.capacity:
            cache.popitem(last=False)

    def get(
        self, number: str, limit: int, query: Callable[[str, int], Sequence[CallRecord]]
    ) -> Sequence[Contact]:
        """The latest `limit` contacts of `number`; `query` reads the store on a miss."""
        if not number or limit <= 0:
            return []
        entry = self.cache.get(number)
        if entry is not None and limit <= self.depth:
            self.cache.move_to_end(number)
            return entry[:limit]
        if not self._seen(number):
            return []
        self.queries += 1
        depth = max(limit, self.depth)
        entry = self._merge(number, [contact(r) for r in query(number, depth)], depth)
        if self.bloom is not None and limit <= self.depth:
            self._put(number, entry)
        return entry[:limit]

    def _merge(self, number: str, stored: list[Contact], depth: int) -> list[Contact]:
        """The stored contacts with those written but perhaps not committed yet."""
        mine = self.fresh.get(number)
        if not mine:
            return stored
        known = {c["call_id"] for c in stored}
        extra = [c for c in mine if c["call_id"] not in known]
        if not extra:
            return stored
        merged = sorted(extra + stored, key=lambda c: c["ended_at"], reverse=True)
        return merged[:depth]
