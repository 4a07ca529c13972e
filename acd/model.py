"""The center's configuration as frozen objects.

`acd.config` builds these from TOML and validates them; the engine only reads them.
Durations are seconds (float), priorities are points (higher is served first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

EMPTY_MAP: Mapping[Any, Any] = MappingProxyType({})


def _empty() -> Mapping[Any, Any]:
    return EMPTY_MAP


class WrapUpMode(StrEnum):
    """What happens after a call ends for the agent."""

    NONE = "none"  # straight back to READY (or the pending state)
    TIMED = "timed"  # WRAP_UP for `seconds`, then READY; the agent may finish early
    MANDATORY = "mandatory"  # WRAP_UP until the agent gives a wrap-up code


class Strategy(StrEnum):
    """How a group picks among its READY agents for a call."""

    LONGEST_IDLE = "longest-idle"
    MOST_SKILLED = "most-skilled"
    FEWEST_CALLS = "fewest-calls"
    LEAST_TALK_TIME = "least-talk-time"
    ROUND_ROBIN = "round-robin"
    RANDOM = "random"
    # Mode 3 tiering: agents who can serve the fewest cities first, keeping versatile agents free.
    LEAST_VERSATILE = "least-versatile"


class OverflowAction(StrEnum):
    """What an overflow rule does to a waiting call once its conditions hold."""

    WIDEN = "widen"  # keep the place, also eligible for agents of other groups
    MOVE = "move"  # leave for another group, arrival time and priority kept
    CALLBACK = "callback"  # offer the caller a callback that keeps the place
    VOICEMAIL = "voicemail"  # send the caller to voicemail


class EntryAction(StrEnum):
    """What happens to a call that a group cannot take (closed, paused or full)."""

    MESSAGE = "message"  # play the prompt and hang up: a caller never meets silence
    VOICEMAIL = "voicemail"
    CALLBACK = "callback"  # offer a callback (the caller hangs up, the task is queued)
    MOVE = "move"  # queue in another group instead


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """E.g. 80% of calls answered within 20 s."""

    ratio: float = 0.8
    seconds: float = 20.0


@dataclass(frozen=True, slots=True)
class WrapUp:
    """Per-group after-call work policy."""

    mode: WrapUpMode = WrapUpMode.TIMED
    seconds: float = 10.0  # TIMED only


@dataclass(frozen=True, slots=True)
class Conditions:
    """All given conditions must hold for a rule to fire (an empty set never fires)."""

    waited: float | None = None  # seconds in this group
    queue_length: int | None = None  # calls waiting in the group, this one included
    estimated_wait: float | None = None  # seconds, for this call's position
    no_agent_signed_in: bool = False
    no_agent_ready: bool = False
    service_level_below: float | None = None  # ratio of the current interval

    def is_empty(self) -> bool:
        """True when no condition is set."""
        return (
            self.waited is None
            and self.queue_length is None
            and self.estimated_wait is None
            and not self.no_agent_signed_in
            and not self.no_agent_ready
            and self.service_level_below is None
        )

    def time_only(self) -> bool:
        """True when the rule needs nothing but the call's own wait (a timer suffices)."""
        return self.waited is not None and (
            self.queue_length is None
            and self.estimated_wait is None
            and not self.no_agent_signed_in
            and not self.no_agent_ready
            and self.service_level_below is None
        )


@dataclass(frozen=True, slots=True)
class OverflowRule:
    """One conditional overflow step of a group; fires at most once per call."""

    name: str
    when: Conditions
    action: OverflowAction
    targets: tuple[str, ...] = ()
    min_level: int | None = None  # WIDEN: the level agents of the targets need (bullseye)


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """When to offer callbacks and how to retry them."""

    offer_when_estimated_wait: float | None = None  # offer at queue entry when EWT >= this
    retry_delay: float = 300.0
    max_attempts: int = 3


@dataclass(frozen=True, slots=True)
class EntryRule:
    """The action taken when a group is closed, paused or full."""

    action: EntryAction = EntryAction.MESSAGE
    prompt: str = ""
    target: str | None = None  # MOVE


@dataclass(frozen=True, slots=True)
class Calendar:
    """Business hours: weekly opening spans in local time, holidays closed all day.

    `weekly[d]` for d in 0..6 (Monday = 0) is a tuple of (open_minute, close_minute) spans.
    `special` overrides a date's spans (an empty tuple means closed).
    """

    id: str
    tz: dt.tzinfo
    weekly: tuple[tuple[tuple[int, int], ...], ...]
    holidays: frozenset[dt.date] = frozenset()
    special: Mapping[dt.date, tuple[tuple[int, int], ...]] = field(
        default_factory=lambda: EMPTY_MAP
    )

    def spans_on(self, day: dt.date) -> tuple[tuple[int, int], ...]:
        """Opening spans (minutes from local midnight) for a date."""
        if day in self.special:
            return self.special[day]
        if day in self.holidays:
            return ()
        return self.weekly[day.weekday()]

    def is_open(self, now: float) -> bool:
        """Whether the calendar is open at epoch time `now`."""
        local = dt.datetime.fromtimestamp(now, self.tz)
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.spans_on(local.date()))

    def next_change(self, now: float) -> float:
        """Epoch time of the next opening or closing after `now` (within two weeks)."""
        local = dt.datetime.fromtimestamp(now, self.tz)
        state = self.is_open(now)
        day = local.date()
        for offset in range(15):
            d = day + dt.timedelta(days=offset)
            edges = sorted({m for span in self.spans_on(d) for m in span} | {0})
            for m in edges:
                t = dt.datetime.combine(d, dt.time(), self.tz) + dt.timedelta(minutes=m)
                ts = t.timestamp()
                if ts > now and self.is_open(ts) != state:
                    return ts
        return now + 14 * 86400.0


@dataclass(frozen=True, slots=True)
class SkillGroup:
    """A queue and the service standard it keeps."""

    id: str
    name: str
    skill: str
    min_level: int = 1
    target: ServiceTarget = ServiceTarget()
    capacity: int = 0  # 0 = unbounded
    ring_timeout: float = 15.0
    wrap_up: WrapUp = WrapUp()
    strategy: Strategy = Strategy.LONGEST_IDLE
    reject_delay: float = 5.0
    max_misses: int = 3  # consecutive rejects before the agent is set NOT_READY
    # call attribute -> agent attribute set that must contain its value (e.g. city -> cities)
    match: tuple[tuple[str, str], ...] = ()
    overflow: tuple[OverflowRule, ...] = ()
    callback: CallbackPolicy = CallbackPolicy()
    calendar: str | None = None
    closed: EntryRule = EntryRule()
    full: EntryRule = EntryRule()
    announce_agent_number: bool = False
    survey: bool = False
    ageing_rate: float = 1.0  # priority points per second waited (0 = strict priority)
    # Effective priority stops at priorities.floor + ageing_cap; calls there go in arrival
    # order. Must be at least the priority spread (ceiling - floor). inf = no ceiling.
    ageing_cap: float = 1000.0
    expected_aht: float = 180.0  # seeds the estimated wait before calls were handled
    announce_period: float = 30.0  # position / EWT announcements while queued (IVR)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """An agent's standing profile; live changes (skills, order) live in the engine."""

    id: str
    number: str  # the 工号 announced to callers
    name: str = ""
    team: str = ""
    skills: Mapping[str, int] = field(default_factory=_empty)
    groups: tuple[str, ...] = ()  # served first, in this order
    attributes: Mapping[str, frozenset[str]] = field(default_factory=_empty)
    endpoint: str = ""
    secret_hash: str = ""


@dataclass(frozen=True, slots=True)
class Team:
    """A team of agents under supervisors."""

    id: str
    name: str = ""


@dataclass(frozen=True, slots=True)
class Priorities:
    """Base priority of a call from its brand and VIP level, and its clamp."""

    brands: Mapping[str, float] = field(default_factory=_empty)
    vip_levels: Mapping[int, float] = field(default_factory=_empty)
    default: float = 0.0
    floor: float = 0.0
    ceiling: float = 1000.0

    def base(self, brand: str, vip: int, bonus: float = 0.0) -> float:
        """Base priority of a call, clamped to [floor, ceiling]."""
        p = self.brands.get(brand, self.default) + self.vip_levels.get(vip, 0.0) + bonus
        return min(self.ceiling, max(self.floor, p))


# Not-ready reasons the engine itself sets; configs may add labels but not remove these.
SYSTEM_REASONS: Mapping[str, str] = MappingProxyType(
    {
        "login": "Signed in",
        "no-answer": "Missed an offer",
        "rejected": "Rejected offers",
        "disconnected": "Desktop disconnected",
        "recovered": "Restored after a server restart",
        "connect-failed": "Phone could not be connected",
        "forced": "Set by a supervisor",
    }
)


@dataclass(frozen=True, slots=True)
class CenterConfig:
    """Everything the routing core needs, validated."""

    name: str = "ACD"
    timezone: dt.tzinfo = dt.UTC
    sl_threshold: float = 15.0  # the KPI threshold (10086 uses 15 s)
    interval_minutes: int = 15
    overflow_check_period: float = 5.0
    priorities: Priorities = Priorities()
    reasons: Mapping[str, str] = field(default_factory=lambda: SYSTEM_REASONS)
    wrapup_codes: Mapping[str, str] = field(default_factory=_empty)
    calendars: Mapping[str, Calendar] = field(default_factory=_empty)
    groups: Mapping[str, SkillGroup] = field(default_factory=_empty)
    agents: Mapping[str, AgentConfig] = field(default_factory=_empty)
    teams: Mapping[str, Team] = field(default_factory=_empty)
    version: str = ""  # digest of the source files
    sections: Mapping[str, Any] = field(default_factory=_empty)  # other sides' tables
    source: str = ""  # the main configuration file, as given to the loader

    def ageing_ceiling(self, group: SkillGroup) -> float:
        """The effective priority at which a group's calls stop ageing."""
        return self.priorities.floor + group.ageing_cap

    def starvation_bound(self, group: SkillGroup) -> float | None:
        """Seconds after which nothing that arrives later can pass a waiting call.

        A call reaches the ceiling floor + cap after at most cap / rate seconds (from the
        floor); calls at the ceiling go in arrival order, so later arrivals queue behind it.
        Without a ceiling, a call arriving d seconds later passes only while
        d < spread / rate. None when there is no ageing (strict priority by design).
        """
        if group.ageing_rate <= 0:
            return None
        if group.ageing_cap == float("inf"):
            return max(self.priorities.ceiling - self.priorities.floor, 0.0) / group.ageing_rate
        return group.ageing_cap / group.ageing_rate
