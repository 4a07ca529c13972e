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
    """An idle agent's place in one pool: the engine keeps the agent's links to leave them.

    Leaving is `link.pool.unlink(link)`: a few field writes in a longest-idle pool, a flag in a
    keyed one; no hashing, however many pools the agent is idle in.
    """

    __slots__ = ("agent", "live", "next", "pool", "prev")

    def __init__(self, pool: Pool, agent: Agent) -> None:
        self.pool = pool
        self.agent = agent
        self.live = True
        self.prev: Link | None = None
        self.next: Link | None = None


class Pool:
    """Idle agents of one group (and one attribute value); the strategies subclass it.

    A base class, not a Protocol: a compiled build then calls the methods directly.
    """

    __slots__ = ("size",)

    def __init__(self) -> None:
        self.size = 0  # agents in the pool

    def add(self, agent: Agent, key: tuple[float, ...]) -> Link:
        """Add an agent that became idle, with its strategy key; returns its place."""
        raise NotImplementedError

    def unlink(self, link: Link) -> None:
        """Take an agent out by the place `add` returned."""
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

    def add(self, agent: Agent, key: tuple[float, ...]) -> Link:
        """Add at the back (the agent has been idle the shortest time)."""
        link = Link(self, agent)
        last = self._last
        if last is None:
            self._first = link
        else:
            last.next = link
            link.prev = last
        self._last = link
        self.size += 1
        return link

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

    def add(self, agent: Agent, key: tuple[float, ...]) -> Link:
        """Add with its sort key (smaller first)."""
        link = Link(self, agent)
        self._seq += 1
        heapq.heappush(self._heap, (key, self._seq, link))
        self.size += 1
        return link

    def unlink(self, link: Link) -> None:
        """Take an agent out (its heap slot is dropped later)."""
        if not link.live:
            return
        link.live = False
        self.size -= 1
        if len(self._heap) > 4 * self.size + 64:
            self._heap = [it for it in self._heap if it[2].live]
            heapq.heapify(self._heap)

    def head(self) -> Agent | None:
        """The first agent in key order."""
        heap = self._heap
        while heap and not heap[0][2].live:
            heapq.heappop(heap)
        return heap[0][2].agent if heap else None

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The first agent in key order passing `ok`."""
        head = self.head()
        if head is None or ok(head):
            return head
        for _, _, link in sorted(self._heap):
            if link.live and ok(link.agent):
                return link.agent
        return None

    def __iter__(self) -> Iterator[Agent]:
        return iter([link.agent for _, _, link in sorted(self._heap) if link.live])


def new_pool(strategy: Strategy) -> Pool:
    """A pool fit for the strategy."""
    return FifoPool() if strategy is Strategy.LONGEST_IDLE else KeyedPool()
