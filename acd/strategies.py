"""Pools of idle agents and the strategies that order them.

Each skill group keeps pools of its READY agents: one for calls without a match attribute and,
when the group matches on an attribute (e.g. city), one per value. A pool yields agents in the
group's strategy order; the caller supplies an eligibility test (skill level, other attributes)
and takes the first agent that passes. An agent's sort key is fixed when it enters the pool:
nothing it depends on changes while the agent is idle.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from acd.model import Strategy

# Typed as the engine's Agent (not a Protocol) so a compiled build reads its fields directly;
# imported for typing only, as acd.live imports this module.
if TYPE_CHECKING:
    from acd.live import Agent


class Pool:
    """Idle agents of one group (and one attribute value); the strategies subclass it.

    `members` maps the id of every agent in the pool to the pool's record of it (the agent, or
    the idle token it entered with); removing an id takes the agent out, which the engine does
    directly, without a call per pool. A base class, not a Protocol: a compiled build then calls
    the methods directly.
    """

    __slots__ = ("members",)

    def __init__(self) -> None:
        self.members: dict[str, Any] = {}

    def add(self, agent: Agent, key: tuple[float, ...]) -> None:
        """Add an agent that became idle, with its strategy key."""
        raise NotImplementedError

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The first agent in strategy order passing `ok`."""
        raise NotImplementedError

    def head(self) -> Agent | None:
        """The first agent in strategy order."""
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.members)

    def __iter__(self) -> Iterator[Agent]:
        raise NotImplementedError


class FifoPool(Pool):
    """Longest idle first: insertion order is idle order; O(1) add, remove and take.

    `members` maps an agent's id to the agent, in an ordered dictionary: the head is its first
    entry. A plain dictionary would be cheaper per removal, but its head walks past the slots
    removals leave at its front, a cost that grows with the pool (about 3.5 µs per take in a
    pool of 3,000, against 1 µs here); a deque with lazy removal costs more when agents serve
    several groups.
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.members = OrderedDict()

    def add(self, agent: Agent, key: tuple[float, ...]) -> None:
        """Add at the back (the agent has been idle the shortest time)."""
        self.members[agent.id] = agent

    def head(self) -> Agent | None:
        """The longest-idle agent."""
        agents: dict[str, Agent] = self.members
        for a in agents.values():
            return a
        return None

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The longest-idle agent passing `ok`."""
        agents: dict[str, Agent] = self.members
        for a in agents.values():
            if ok(a):
                return a
        return None

    def __iter__(self) -> Iterator[Agent]:
        agents: dict[str, Agent] = self.members
        return iter(list(agents.values()))


class KeyedPool(Pool):
    """Agents ordered by a key fixed on entry; a heap with lazy removal."""

    __slots__ = ("_heap",)

    def __init__(self) -> None:
        super().__init__()
        self._heap: list[tuple[tuple[float, ...], int, Agent]] = []

    def add(self, agent: Agent, key: tuple[float, ...]) -> None:
        """Add with its sort key (smaller first)."""
        token = agent.idle_token
        self.members[agent.id] = token
        heapq.heappush(self._heap, (key, token, agent))
        if len(self._heap) > 4 * len(self.members) + 64:
            self._compact()

    def _live(self, item: tuple[tuple[float, ...], int, Agent]) -> bool:
        return self.members.get(item[2].id) == item[1]

    def _compact(self) -> None:
        self._heap = [it for it in self._heap if self._live(it)]
        heapq.heapify(self._heap)

    def head(self) -> Agent | None:
        """The first agent in key order."""
        heap = self._heap
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)
        return heap[0][2] if heap else None

    def first(self, ok: Callable[[Agent], bool]) -> Agent | None:
        """The first agent in key order passing `ok`."""
        heap = self._heap
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)
        if not heap:
            return None
        if ok(heap[0][2]):
            return heap[0][2]
        for item in sorted(heap):
            if self._live(item) and ok(item[2]):
                return item[2]
        return None

    def __iter__(self) -> Iterator[Agent]:
        return iter([it[2] for it in sorted(self._heap) if self._live(it)])


def new_pool(strategy: Strategy) -> Pool:
    """A pool fit for the strategy."""
    return FifoPool() if strategy is Strategy.LONGEST_IDLE else KeyedPool()
