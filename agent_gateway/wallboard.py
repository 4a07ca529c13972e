"""The wallboard's figures and their coalesced deltas, computed from the engine's live state.

Pure: time is a parameter, the engine is only read (interval counters that the engine has not
rolled yet are read as empty rather than rolled here).

Rows come in two parts: the stable part (state, reason, counters, the moments things began)
decides whether a row changed; the derived part (time in state, call duration, oldest wait)
is computed from `now` when a row is sent, so the passing of time alone never makes a delta.
A client ages those figures itself from the `*_since` moments and the message's `at`.

`FeedCore` turns engine outputs into deltas per scope, at most one flush per `period`
seconds: every change inside a period is merged into the next flush (coalescing), so each
subscriber receives at most 1/period deltas per second however busy the center is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from acd import events as ev
from acd.engine import Engine
from acd.live import Agent, CallPhase, Group
from acd.states import AgentState
from acd.stats import Counters

Row = dict[str, Any]

STATES = tuple(s.value for s in AgentState if s is not AgentState.LOGGED_OUT)


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)


def _figures(c: Counters, now: float) -> Row:
    """KPIs of one counters slot; a slot the clock has left reads as empty."""
    if now >= c.end:
        c = Counters()
    return {
        "offered": c.offered,
        "answered": c.answered,
        "answered_within": c.answered_within,
        "abandoned": c.abandoned,
        "abandoned_within": c.abandoned_within,
        "blocked": c.blocked,
        "service_level": _round(c.service_level(), 4),
        "asa": _round(c.asa()),
        "aht": _round(c.aht()),
        "abandon_rate": _round(c.abandon_rate(), 4),
    }


def assigned_waits(engine: Engine) -> dict[str, list[float]]:
    """Per group, since when its calls handed to a named agent have waited.

    Such calls leave the group's queue but still wait, so they count as waiting.
    """
    out: dict[str, list[float]] = {}
    for call in engine.calls.values():
        if call.phase is CallPhase.ASSIGNED:
            out.setdefault(call.group, []).append(call.wait_from)
    return out


def group_row(engine: Engine, g: Group, now: float, assigned: Sequence[float] = ()) -> Row:
    """The stable figures of one group (`assigned`: see `assigned_waits`)."""
    cfg = g.cfg
    oldest = min((c.wait_from for c in g.home.values()), default=None)
    if assigned:
        oldest = min(min(assigned), oldest if oldest is not None else math.inf)
    cal = engine.config.calendars.get(cfg.calendar) if cfg.calendar else None
    counts = {s.value: n for s, n in g.counts.items() if n}
    return {
        "name": cfg.name,
        "paused": g.paused,
        "open": (cal.is_open(now) if cal is not None else True) and not g.paused,
        "waiting": len(g.home) + len(assigned),
        "assigned": len(assigned),
        "oldest_since": oldest,
        "target": {"ratio": cfg.target.ratio, "seconds": cfg.target.seconds},
        "interval": _figures(g.stats.interval, now),
        "today": _figures(g.stats.day, now),
        "agents": counts,
        "staffed": sum(counts.values()),
    }


def agent_row(agent: Agent) -> Row:
    """The stable figures of one agent."""
    call_id = ""
    call_since: float | None = None
    group = ""
    if agent.calls:
        call = agent.calls[0]
        call_id, group = call.id, call.group
        call_since = agent.joined.get(call.id, call.connected_at)
    elif agent.offer is not None:
        call_id, group = agent.offer.id, agent.offer.group
        call_since = agent.since
    signed_in = agent.state is not AgentState.LOGGED_OUT
    return {
        "name": agent.cfg.name,
        "team": agent.cfg.team,
        "state": agent.state.value,
        "reason": agent.reason,
        "since": agent.since if signed_in or agent.since else None,
        "pending": agent.pending.value if agent.pending is not None else None,
        "call_id": call_id,
        "call_group": group,
        "call_since": call_since,
        "held": bool(agent.calls and agent.calls[0].held),
        "handled": agent.handled,
        "online": agent.online,
    }


def render_group(row: Row, now: float) -> Row:
    """A group row with its time-derived figures at `now`."""
    since = row["oldest_since"]
    return {**row, "oldest_wait": _round(max(0.0, now - since)) if since is not None else 0.0}


def render_agent(row: Row, now: float) -> Row:
    """An agent row with its time-derived figures at `now`."""
    since, call_since = row["since"], row["call_since"]
    return {
        **row,
        "time_in_state": _round(max(0.0, now - since)) if since is not None else None,
        "call_seconds": _round(max(0.0, now - call_since)) if call_since is not None else None,
    }


def agents_touched(outputs: Sequence[ev.Output]) -> tuple[set[str], bool]:
    """Agents whose row may have changed, and whether every row must be recomputed."""
    ids: set[str] = set()
    everything = False
    for o in outputs:
        aid = getattr(o, "agent_id", None)
        if aid:
            ids.add(aid)
        elif isinstance(o, ev.CallPartiesChanged | ev.CallEnded):
            ids.update(o.agents)
        elif isinstance(o, ev.ConfigApplied):
            everything = True
    return ids, everything


@dataclass(slots=True)
class Delta:
    """What changed for one scope since the previous flush."""

    groups: dict[str, Row]
    agents: dict[str, Row]
    removed: list[str]

    def __bool__(self) -> bool:
        return bool(self.groups or self.agents or self.removed)


@dataclass(slots=True)
class View:
    """What one scope sees: its groups and agents (the scope's members, kept current)."""

    groups: list[str]
    agents: set[str]


ScopeFn = Callable[[Engine], View]


@dataclass(slots=True)
class _ScopeState:
    fn: ScopeFn
    view: View
    subscribers: int = 0


@dataclass
class FeedCore:
    """Board state, change tracking and the flush gate; driven by a host with a clock."""

    period: float = 0.5
    groups: dict[str, Row] = field(default_factory=dict)
    agents: dict[str, Row] = field(default_factory=dict)
    last_flush: float = -math.inf
    flushes: int = 0
    _dirty: set[str] = field(default_factory=set)
    _all: bool = True  # rebuild every row at the next flush
    _members: bool = False  # scope membership may have changed
    _pending: bool = False
    # changes found by a snapshot's rebuild, still owed to the scopes that were watching
    _carry: tuple[set[str], set[str], list[str]] = field(default_factory=lambda: (set(), set(), []))
    _scopes: dict[Hashable, _ScopeState] = field(default_factory=dict)

    # -- scopes -----------------------------------------------------------------------

    def join(self, key: Hashable, fn: ScopeFn, engine: Engine) -> None:
        """A subscriber of scope `key` arrived."""
        st = self._scopes.get(key)
        if st is None:
            st = self._scopes[key] = _ScopeState(fn, fn(engine))
        st.subscribers += 1

    def leave(self, key: Hashable) -> None:
        """A subscriber of scope `key` left."""
        st = self._scopes.get(key)
        if st is not None:
            st.subscribers -= 1
            if st.subscribers <= 0:
                del self._scopes[key]
        if not self._scopes:
            self._all = True  # nobody watches: stop tracking, rebuild on the next join

    @property
    def watched(self) -> bool:
        """Whether anybody is subscribed."""
        return bool(self._scopes)

    # -- changes ----------------------------------------------------------------------

    def changed(self, outputs: Sequence[ev.Output]) -> bool:
        """Note engine outputs; True when a flush should be scheduled."""
        if not self._scopes:
            return False
        ids, everything = agents_touched(outputs)
        if everything:
            self._all = True
            self._members = True
        elif any(isinstance(o, ev.AgentSkillsChanged) for o in outputs):
            self._members = True
        self._dirty |= ids
        self._pending = True
        return True

    def due(self, now: float) -> float | None:
        """When the next flush may run (None when nothing is pending)."""
        if not self._pending:
            return None
        return max(now, self.last_flush + self.period)

    def poke(self) -> None:
        """Ask for a flush although no output arrived (the clock moved: intervals, calendars)."""
        self._pending = True

    # -- flushing ---------------------------------------------------------------------

    def snapshot(self, engine: Engine, key: Hashable, now: float) -> Delta:
        """Everything scope `key` sees, as of the board (rebuilt first when stale)."""
        st = self._scopes[key]
        if self._all:
            watched_before = st.subscribers > 1 or len(self._scopes) > 1
            groups, agents, removed = self._refresh(engine, now)
            if watched_before:
                self._carry[0].update(groups)
                self._carry[1].update(agents)
                self._carry[2].extend(removed)
                self._pending = True
        return Delta(
            {gid: render_group(self.groups[gid], now) for gid in st.view.groups},
            {aid: render_agent(self.agents[aid], now) for aid in sorted(st.view.agents)},
            [],
        )

    def flush(self, engine: Engine, now: float) -> dict[Hashable, Delta]:
        """Recompute what changed and cut one delta per scope (empty ones left out).

        Must not be called before `due(now)`; that is what bounds the rate.
        """
        assert now >= self.last_flush + self.period - 1e-9, "flush called before it was due"
        self._pending = False
        self.last_flush = now
        self.flushes += 1
        changed_groups, changed_agents, removed = self._refresh(engine, now)
        carried_groups, carried_agents, carried_removed = self._carry
        if carried_groups or carried_agents or carried_removed:
            changed_groups |= carried_groups
            changed_agents |= carried_agents
            removed = removed + [a for a in carried_removed if a not in self.agents]
            self._carry = (set(), set(), [])
        out: dict[Hashable, Delta] = {}
        members = self._members
        self._members = False
        rendered: dict[str, Row] = {}  # each changed row is rendered once, shared by scopes

        def shown(aid: str) -> Row:
            row = rendered.get(aid)
            if row is None:
                row = rendered[aid] = render_agent(self.agents[aid], now)
            return row

        for key, st in self._scopes.items():
            gone: list[str] = []
            added: set[str] = set()
            if members:
                view = st.fn(engine)
                added = view.agents - st.view.agents
                gone = sorted(st.view.agents - view.agents)
                st.view = view
            gone.extend(a for a in removed if a in st.view.agents)
            st.view.agents.difference_update(removed)
            d = Delta(
                {
                    gid: render_group(self.groups[gid], now)
                    for gid in st.view.groups
                    if gid in changed_groups
                },
                {
                    aid: shown(aid)
                    for aid in sorted((changed_agents & st.view.agents) | added)
                    if aid in self.agents
                },
                gone,
            )
            if d:
                out[key] = d
        return out

    def _refresh(self, engine: Engine, now: float) -> tuple[set[str], set[str], list[str]]:
        changed_groups: set[str] = set()
        assigned = assigned_waits(engine)
        for gid, g in engine.groups.items():
            row = group_row(engine, g, now, assigned.get(gid, ()))
            if self.groups.get(gid) != row:
                self.groups[gid] = row
                changed_groups.add(gid)
        for gid in [gid for gid in self.groups if gid not in engine.groups]:
            del self.groups[gid]
        ids: Iterable[str] = engine.agents if self._all else self._dirty
        changed_agents: set[str] = set()
        for aid in ids:
            agent = engine.agents.get(aid)
            if agent is None:
                continue
            row = agent_row(agent)
            if self.agents.get(aid) != row:
                self.agents[aid] = row
                changed_agents.add(aid)
        removed = [aid for aid in self.agents if aid not in engine.agents]
        for aid in removed:
            del self.agents[aid]
        self._dirty.clear()
        self._all = False
        return changed_groups, changed_agents, removed
