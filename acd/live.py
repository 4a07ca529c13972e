"""The engine's live records: calls, agents and groups as they are right now.

Plain mutable objects owned by the engine; hosts read them through the engine's views.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Final

from acd.events import CallInfo, CallKind, Target
from acd.model import AgentConfig, SkillGroup, WrapUpMode
from acd.queues import Entry, GroupQueue
from acd.states import BY_STATE, AgentState, Moves
from acd.stats import GroupStats
from acd.strategies import Link, Pool
from acd.timers import Lane, Timer


class CallPhase(StrEnum):
    """Where a call or task is in the engine."""

    QUEUED = "queued"  # waiting in one or more group queues
    ASSIGNED = "assigned"  # waiting for a named agent (supervisor assignment, transfer)
    PARKED = "parked"  # out of the queues for now: callback retry, voicemail recording...
    OFFERED = "offered"  # ringing an agent
    CONNECTING = "connecting"  # accepted; the switch is connecting or dialing
    CONNECTED = "connected"
    ENDED = "ended"


# Read once per new call or agent: enum class attributes are slow on 3.11 (see acd.members).
_QUEUED: Final = CallPhase.QUEUED
_INBOUND: Final = CallKind.INBOUND
_LOGGED_OUT: Final = AgentState.LOGGED_OUT
NONE_FIRED: Final[frozenset[int]] = frozenset()


class Call:
    """A customer contact (or consult leg) the engine is routing or tracking."""

    __slots__ = (
        "agent",
        "agents",
        "answered_at",
        "assigned_by",
        "assigned_to",
        "attempts",
        "base",
        "caller_present",
        "conference_on_answer",
        "connected_at",
        "consult",
        "entered_at",
        "entries",
        "external",
        "fired",
        "group",
        "groups_seen",
        "held",
        "held_since",
        "hold_total",
        "home",
        "id",
        "info",
        "kind",
        "number",
        "outcome",
        "owner",
        "parent",
        "parked_for",
        "phase",
        "queued_at",
        "rule_timer",
        "served",
        "talk_total",
        "targets",
        "timer",
        "transfer",
        "voicemail",
        "wait_from",
    )

    def __init__(
        self, info: CallInfo, kind: CallKind, home: Group, base: float, queued_at: float
    ) -> None:
        self.id = info.id
        self.info = info
        self.kind = kind
        # Its home group, and that group's id (kept together: Engine._rehome).
        self.home = home
        self.group = group = home.cfg.id
        self.base = base
        self.queued_at = queued_at  # fixes the place in every queue, never changes
        self.wait_from = queued_at  # start of the current wait for an agent (KPI)
        self.entered_at = queued_at  # entered the home group (overflow rules)
        self.phase = _QUEUED
        self.targets: dict[str, int] = {}  # group -> skill level needed there
        self.entries: dict[str, Entry] = {}
        # Overflow rules of the home group already applied: rarely any, so a shared empty
        # frozenset until one fires (none is built per call).
        self.fired: frozenset[int] = NONE_FIRED
        self.groups_seen: list[str] = [group]
        self.agent: Agent | None = None  # offered / connecting agent
        self.agents: list[Agent] = []  # connected agents
        self.served: list[str] = []  # every agent ever connected
        self.external: list[str] = []  # external parties (conference)
        self.held = False
        self.held_since = 0.0
        self.hold_total = 0.0
        self.answered_at: float | None = None
        self.connected_at: float | None = None
        self.assigned_to: Agent | None = None
        self.assigned_by = ""
        self.attempts = 0
        self.number = info.caller  # who to call back
        self.voicemail = ""
        self.parent: Call | None = None  # consult legs: the call being consulted on
        self.owner: Agent | None = None  # consult legs: the consulting agent
        self.consult: Call | None = None  # the open consult leg of this call
        self.conference_on_answer = False
        self.caller_present = kind is _INBOUND
        self.parked_for = ""
        # blind transfer awaiting the transferring agent's leg drop
        self.transfer: tuple[Target, Agent] | None = None
        self.outcome: tuple[str, float | None] | None = None  # agent's word on a callback
        self.talk_total = 0.0
        self.timer: Timer | None = None  # ring timeout or parked wake-up
        self.rule_timer: Timer | None = None


class Agent:
    """An agent's live state."""

    __slots__ = (
        "assigned",
        "attrs",
        "available_at",
        "calls",
        "cfg",
        "cooldown",
        "counted",
        "counted_as",
        "endpoint",
        "handled",
        "id",
        "idle_fifo",
        "idle_links",
        "idle_plan",
        "idle_seq",
        "idle_since",
        "joined",
        "last_call",
        "last_offer",
        "members",
        "misses",
        "moves",
        "offer",
        "online",
        "order",
        "pending",
        "pending_actor",
        "pending_reason",
        "pools",
        "reason",
        "scan",
        "since",
        "skills",
        "stale",
        "state",
        "talk",
        "tallies",
        "wrap",
    )

    def __init__(self, cfg: AgentConfig) -> None:
        self.cfg = cfg
        self.id = cfg.id
        self.state = _LOGGED_OUT
        # BY_STATE[state], kept with `state` by the engine: one lookup less per change.
        self.moves: Moves = BY_STATE[_LOGGED_OUT]
        self.reason = ""
        self.since = 0.0
        self.pending: AgentState | None = None
        self.pending_reason = ""
        self.pending_actor = ""
        self.skills: dict[str, int] = dict(cfg.skills)
        self.order: tuple[str, ...] = cfg.groups
        self.attrs = cfg.attributes
        self.endpoint = cfg.endpoint
        self.online = False
        self.offer: Call | None = None
        self.last_call = ""  # id of the latest offer, to tell "expired" from "not yours"
        self.calls: list[Call] = []
        self.joined: dict[str, float] = {}  # call id -> when this agent joined it
        self.wrap: Wrap | None = None
        self.misses = 0
        self.idle_seq = 0
        self.idle_since = 0.0
        self.available_at = 0.0  # reject delay: not offered before this
        self.cooldown: Timer | None = None
        self.pools: tuple[Link, ...] = ()  # its places in the pools while idle (idle_links)
        self.members: tuple[str, ...] = ()  # groups it may serve, in this agent's order
        self.scan: tuple[tuple[Group, int], ...] = ()  # (group, own level) in that order
        self.counted: tuple[Group, ...] = ()  # groups whose counts include this agent
        self.tallies: tuple[dict[AgentState, int], ...] = ()  # their raw counts, same order
        self.counted_as: AgentState | None = None  # the state those counts hold it under
        self.stale = False  # marked in the Tally: `counted_as` may be behind `state`
        # Its places in the pools it joins when idle, by group in `scan` order, and all of them.
        self.idle_plan: tuple[tuple[Group, tuple[Link, ...]], ...] = ()
        self.idle_links: tuple[Link, ...] = ()
        self.idle_fifo = True  # all its groups pick longest-idle (pools need no key)
        self.assigned: deque[Call] = deque()
        self.last_offer: dict[str, int] = {}
        self.handled = 0  # calls handled today
        self.talk = 0.0  # talk seconds today

    def level(self, skill: str) -> int:
        """The agent's level in a skill (0 when it lacks it)."""
        return self.skills.get(skill, 0)


class Wrap:
    """After-call work in progress."""

    __slots__ = ("call_id", "code", "group", "handle", "mode", "started", "timer")

    def __init__(
        self, call_id: str, group: str, mode: WrapUpMode, started: float, handle: float
    ) -> None:
        self.call_id = call_id
        self.group = group
        self.mode = mode
        self.started = started
        self.handle = handle  # talk + hold seconds of the call, wrap-up comes on top
        self.code = ""
        self.timer: Timer | None = None


class Tally:
    """Agent counts by state of every group, brought up to date when they are read.

    A state change between two signed-in states only marks the agent (a flag and a list
    append, once until the next read);
    the counts of its groups move when somebody reads `Group.counts`. Most changes are never
    read one by one (an agent goes READY and at once RESERVED), so most of that work is never
    done. Signing in and out change the totals and are counted at once.
    """

    __slots__ = ("stale",)

    def __init__(self) -> None:
        self.stale: list[Agent] = []  # agents whose state may differ from `counted_as`

    def settle(self) -> None:
        """Move every marked agent to its current state in its groups' counts."""
        for agent in self.stale:
            agent.stale = False
            was, now = agent.counted_as, agent.state
            if was is not None and was is not now:
                for c in agent.tallies:
                    c[was] -= 1
                    c[now] += 1
                agent.counted_as = now
        self.stale.clear()

    def forget(self) -> None:
        """Drop every mark (the counts are being rebuilt from scratch)."""
        for agent in self.stale:
            agent.stale = False
        self.stale.clear()


class Group:
    """A skill group's live state."""

    __slots__ = (
        "cfg",
        "check",
        "floor",
        "home",
        "paused",
        "pools",
        "queue",
        "raw_counts",
        "retired",
        "ring_lane",
        "state_rules",
        "stats",
        "tally",
    )

    def __init__(
        self,
        cfg: SkillGroup,
        stats: GroupStats,
        floor: int,
        queue: GroupQueue,
        tally: Tally,
        ring_lane: Lane,
    ) -> None:
        self.cfg = cfg
        self.queue = queue
        self.ring_lane = ring_lane  # where its offers' ring timeouts are filed
        self.pools: dict[str | None, Pool] = {}
        self.stats = stats
        self.floor = floor  # lowest level any rule admits agents at
        self.state_rules = any(not r.when.time_only() for r in cfg.overflow)
        self.paused = False
        self.retired = False  # gone from the config by a reload: takes no new calls
        self.home: dict[str, Call] = {}  # queued calls whose home is this group
        # As of the last `tally.settle()`; every state present (updates are `+= 1`).
        self.raw_counts: dict[AgentState, int] = dict.fromkeys(AgentState, 0)
        self.tally = tally
        self.check: Timer | None = None  # periodic overflow evaluation

    @property
    def counts(self) -> dict[AgentState, int]:
        """Signed-in agents at the group's full level, by state (read only)."""
        if self.tally.stale:
            self.tally.settle()
        return self.raw_counts
