"""What an agent's desktop sees when it draws itself: the snapshot, today's own counters,
the groups it serves and the screen pop of an offer.

Reads the engine's live records (read only, on the loop, between events). "Today" is the
center's local day (`[center] timezone`): counters start again at local midnight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from acd import events as ev
from acd.engine import Engine
from acd.live import Agent, Call
from acd.states import AgentState
from acd.timers import cancelled as timer_cancelled
from acd.timers import deadline as timer_deadline
from agent_gateway.messages import (
    CallView,
    Counters,
    GroupView,
    Offer,
    ScreenPop,
    SnapshotResult,
    WrapUpView,
)


class LocalDay:
    """The center's local calendar day for epoch times, recomputed once per day."""

    __slots__ = ("end", "label", "start", "tz")

    def __init__(self, tz: dt.tzinfo) -> None:
        self.tz = tz
        self.start = 0.0
        self.end = 0.0
        self.label = ""

    def of(self, t: float) -> str:
        """YYYY-MM-DD of `t` in the center's time zone."""
        if self.start <= t < self.end:
            return self.label
        local = dt.datetime.fromtimestamp(t, self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        nxt = (midnight + dt.timedelta(days=1)).replace(tzinfo=None)
        self.start = midnight.timestamp()
        self.end = nxt.replace(tzinfo=self.tz).timestamp()  # DST-safe next local midnight
        self.label = local.date().isoformat()
        return self.label


class DayCounters:
    """One agent's counters for one local day."""

    __slots__ = (
        "answered",
        "day",
        "handled",
        "missed",
        "nr_since",
        "nr_total",
        "offered",
        "rejected",
        "talk",
        "talk_since",
        "wrap",
    )

    def __init__(self, day: str) -> None:
        self.day = day
        self.offered = self.answered = self.rejected = self.missed = self.handled = 0
        self.talk = self.wrap = self.nr_total = 0.0
        self.talk_since: float | None = None
        self.nr_since: float | None = None

    def view(self, now: float) -> Counters:
        """The wire form, open spans counted up to `now`."""
        talk = self.talk + (now - self.talk_since if self.talk_since is not None else 0.0)
        nr = self.nr_total + (now - self.nr_since if self.nr_since is not None else 0.0)
        return Counters(
            self.day,
            self.offered,
            self.answered,
            self.rejected,
            self.missed,
            self.handled,
            round(talk, 3),
            round(self.wrap, 3),
            round(nr, 3),
        )


class Today:
    """Every agent's counters; a day change starts the agent's counters again."""

    def __init__(self, tz: dt.tzinfo) -> None:
        self.clock = LocalDay(tz)
        self.agents: dict[str, DayCounters] = {}

    def of(self, agent_id: str, t: float) -> DayCounters:
        """The agent's counters of the local day of `t` (open spans carry over midnight)."""
        day = self.clock.of(t)
        c = self.agents.get(agent_id)
        if c is None or c.day != day:
            fresh = DayCounters(day)
            if c is not None:  # an open talk or not-ready span continues from midnight
                if c.talk_since is not None:
                    fresh.talk_since = max(c.talk_since, self.clock.start)
                if c.nr_since is not None:
                    fresh.nr_since = max(c.nr_since, self.clock.start)
            c = self.agents[agent_id] = fresh
        return c

    def state_changed(self, o: ev.AgentStateChanged) -> None:
        """Track talk and not-ready spans and calls handled from a state change."""
        c = self.of(o.agent_id, o.at)
        old, new = o.old, o.new
        if old is new:
            return
        if old is AgentState.ON_CALL and c.talk_since is not None:
            c.talk += o.at - c.talk_since
            c.talk_since = None
            c.handled += 1
        if new is AgentState.ON_CALL:
            c.talk_since = o.at
            if old is AgentState.RESERVED:
                c.answered += 1
        if old is AgentState.NOT_READY and c.nr_since is not None:
            c.nr_total += o.at - c.nr_since
            c.nr_since = None
        if new is AgentState.NOT_READY:
            c.nr_since = o.at


def group_views(
    engine: Engine, agent: Agent, cache: dict[str, GroupView] | None = None
) -> list[GroupView]:
    """The groups the agent serves, in its order, with the queue right now."""
    out = []
    for gid in agent.members:
        if cache is not None and gid in cache:
            base = cache[gid]
            out.append(
                GroupView(
                    gid,
                    base.name,
                    agent.level(engine.groups[gid].cfg.skill),
                    base.waiting,
                    base.oldest_wait,
                )
            )
            continue
        g = engine.groups.get(gid)
        if g is None:
            continue
        view = GroupView(
            gid,
            g.cfg.name,
            agent.level(g.cfg.skill),
            len(g.home),
            round(engine.oldest_wait(gid), 3),
        )
        if cache is not None:
            cache[gid] = view
        out.append(view)
    return out


def call_view(call: Call, agent: Agent) -> CallView:
    """One call as the agent sees it."""
    return CallView(
        call.id,
        call.group,
        call.kind.value,
        call.phase.value,
        call.info.caller,
        call.held,
        [a.id for a in call.agents],
        list(call.external),
        agent.joined.get(call.id, 0.0),
    )


def screen_pop(screen: ev.Screen, recent: Sequence[Mapping[str, Any]]) -> ScreenPop:
    """The screen pop of an offer."""
    info = screen.call
    return ScreenPop(
        info.caller,
        info.dialed,
        info.brand,
        info.vip,
        info.attributes.get("city", ""),
        dict(info.attributes),
        list(info.ivr_path),
        dict(info.inputs),
        dict(info.customer),
        [dict(r) for r in recent],
        screen.kind.value,
        round(screen.waited, 3),
        screen.number,
        screen.voicemail,
        screen.consult_from,
        screen.attempt,
    )


def snapshot(
    engine: Engine, agent_id: str, today: Today, now: float, offer: Offer | None
) -> SnapshotResult:
    """The full view of one agent."""
    a = engine.agent(agent_id)
    w = a.wrap
    wrap = None
    if w is not None:
        deadline = (
            timer_deadline(w.timer)
            if w.timer is not None and not timer_cancelled(w.timer)
            else None
        )
        wrap = WrapUpView(w.call_id, w.group, w.mode.value, w.code, w.started, deadline)
    if a.offer is None:
        offer = None
    return SnapshotResult(
        a.id,
        a.cfg.name,
        a.cfg.number,
        a.endpoint,
        a.state.value,
        a.reason,
        a.since,
        a.pending.value if a.pending is not None else None,
        a.pending_reason,
        [call_view(c, a) for c in a.calls],
        offer,
        wrap,
        group_views(engine, a),
        today.of(a.id, now).view(now),
        dict(engine.config.reasons),
        dict(engine.config.wrapup_codes),
    )
