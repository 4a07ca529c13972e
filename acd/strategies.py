"""Pools of idle agents and the strategies that order them.

Each skill group keeps pools of its READY agents: one for calls without a match attribute and,
when the group matches on an attribute (e.g. city), one per value. A pool yields agents in the
group's strategy order; the caller supplies an eligibility test (skill level, other attributes)
and takes the first agent that passes. An agent's sort key is fixed when it enters the pool:
nothing it depends on changes while the agent is idle.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from acd.model import Strategy

# Typed as the engine's Agent (not a Protocol) so a compiled build reads its fields directly;
# imported for typing only, as acd.live imports this module.
if TYPE_CHECKING:
    from acd.live import Agent


class Link:
    """An agent's place in one pool, made once with the agent's pools and reused.

    Joining is `link.pool.join(link, key)` and leaving `link.pool.unlink(link)`: a few field
    writes in a longest-idle pool, a flag in a keyed one; no hashing and no allocation, however
    many pools the agent is idle in.
    """

    __slots__ = ("agent", "live", "next", "pool", "prev", "seq")

    def __init__(self, pool: Pool, agent: Agent) -> None:
        self.pool = pool
        self.agent = agent
        self.live = False  # in the pool now
        self.prev: Link | None = None
        self.next: Link | None = None
        self.seq = 0  # a keyed pool's filing number: its heap slot of the current stay


class Pool:
    """Idle agents of one group (and one attribute value); the strategies subclass it.

    A base class, not a Protocol: a compiled build then calls the methods directly.
    """

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0  # agents in the pool

    def join(self, link: Link, key: tuple[float, ...]) -> None:
        """Put in an agent that became idle (by its link to this pool), with its strategy key."""
        raise NotImplementedError

    def unlink(self, link: Link) -> None:
        """Take an agent out by its link."""
        raise NotImplementedError

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The first agent in strategy order passing `ok`."""
        raise NotImplementedError

    def head(self) -> Agent | None:
        """The first agent in strategy order."""
        raise NotImplementedError

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Agent]:
        raise NotImplementedError


class FifoPool(Pool):
    """Longest idle first: a doubly linked list in idle order; O(1) add, remove and take.

    Dictionaries were dearer: an ordered one hashes the agent's id on every removal and builds
    an iterator to read its head; a plain one also walks past the slots removals leave at its
    front, a cost that grows with the pool.
    """

    __slots__ = ("_first", "_last")

    def __init__(self) -> None:
        super().__init__()
        self._first: Link | None = None
        self._last: Link | None = None

    def join(self, link: Link, key: tuple[float, ...]) -> None:
        """Put in at the back (the agent has been idle the shortest time)."""
        if link.live:
            return
        link.live = True
        last = self._last
        link.prev = last
        link.next = None
        if last is None:
            self._first = link
        else:
            last.next = link
        self._last = link
        self.size += 1

    def unlink(self, link: Link) -> None:
        """Take an agent out (its neighbours close the gap)."""
        if not link.live:
            return
        link.live = False
        prev, nxt = link.prev, link.next
        if prev is None:
            self._first = nxt
        else:
            prev.next = nxt
        if nxt is None:
            self._last = prev
        else:
            nxt.prev = prev
        link.prev = link.next = None  # no cycles left for the collector
        self.size -= 1

    def head(self) -> Agent | None:
        """The longest-idle agent."""
        first = self._first
        return None if first is None else first.agent

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The longest-idle agent passing `ok`."""
        link = self._first
        while link is not None:
            if ok(link.agent):
                return link.agent
            link = link.next
        return None

    def __iter__(self) -> Iterator[Agent]:
        agents = []
        link = self._first
        while link is not None:
            agents.append(link.agent)
            link = link.next
        return iter(agents)


class KeyedPool(Pool):
    """Agents ordered by a key fixed on entry; a heap with lazy removal."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[tuple[float, ...], int, Link]] = []
        self._seq = 0  # breaks ties, so the heap never compares links

    def join(self, link: Link, key: tuple[float, ...]) -> None:
        """Put in with its sort key (smaller first)."""
        if link.live:
            return
        link.live = True
        self._seq += 1
        link.seq = self._seq  # slots of its earlier stays are stale from now on
        heapq.heappush(self._heap, (key, self._seq, link))
        self.size += 1

    def unlink(self, link: Link) -> None:
        """Take an agent out (its heap slot is dropped later)."""
        if not link.live:
            return
        link.live = False
        self.size -= 1
        if len(self._heap) > 4 * self.size + 64:
            self._heap = [it for it in self._heap if _current(it)]
            heapq.heapify(self._heap)

    def head(self) -> Agent | None:
        """The first agent in key order."""
        heap = self._heap
        while heap and not _current(heap[0]):
            heapq.heappop(heap)
        return heap[0][2].agent if heap else None

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The first agent in key order passing `ok`."""
        head = self.head()
        if head is None or ok(head):
            return head
        for item in sorted(self._heap):
            if _current(item) and ok(item[2].agent):
                return item[2].agent
        return None

    def __iter__(self) -> Iterator[Agent]:
        return iter([it[2].agent for it in sorted(self._heap) if _current(it)])


def _current(item: tuple[tuple[float, ...], int, Link]) -> bool:
    """Whether a keyed pool's heap slot is its agent's current stay."""
    link = item[2]
    return link.live and link.seq == item[1]


def new_pool(strategy: Strategy) -> Pool:
    """A pool fit for the strategy."""
    return FifoPool() if strategy is Strategy.LONGEST_IDLE else KeyedPool()
