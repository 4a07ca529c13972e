"""The routing engine: `Engine.handle(event, now) -> outputs`. Sans-I/O, single-threaded.

The matching rules, in one place:
- A call that becomes waiting is offered at once to the best idle agent of its groups (home
  group first, then groups it was widened to), by the group's strategy.
- An agent that becomes available takes, first, calls assigned to it; then, scanning its
  groups in its own order, the best call (effective priority, then arrival) of the first group
  that has one it can serve.
- So no idle agent and waiting call that suit each other ever coexist, one offer per agent and
  one agent per call at any moment (no ring-all).

Time only enters as the `now` argument. Timers are filed in a heap the host reads through
`next_deadline()`; `advance(now)` (also run first by `handle`) processes what fell due, each
stamped with its own deadline.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

import msgspec

from acd import events as ev
from acd import live, model
from acd.errors import (
    AcdError,
    DuplicateCall,
    Forbidden,
    NotAvailable,
    UnknownAgent,
    UnknownCall,
    UnknownGroup,
    UnknownReason,
    WrapUpCodeRequired,
    WrongState,
)
from acd.events import EndCause, Output
from acd.live import NONE_FIRED, Agent, Call, Group, Tally, Wrap
from acd.members import members
from acd.model import (
    CenterConfig,
    Conditions,
    EntryRule,
    OverflowRule,
    SkillGroup,
)
from acd.queues import Entry, GroupQueue, MatchKey
from acd.states import BY_STATE, DEFER, AgentState, Trigger, transition
from acd.stats import GroupStats, bounds
from acd.strategies import Link, new_pool
from acd.timers import TimerHeap
from acd.timers import cancel as cancel_timer
from acd.timers import deadline as timer_deadline

# Enum members the engine names: enum class attributes are slow to read (see acd.members), so
# the rarer ones go through plain-class namespaces and those of every decision are module
# constants, the cheapest names to read (a compiled build reads Final ones without a lookup).
CallKind: Final = members(ev.CallKind)
Cause: Final = members(EndCause)
TargetKind: Final = members(ev.TargetKind)
Strategy: Final = members(model.Strategy)
WrapUpMode: Final = members(model.WrapUpMode)
OverflowAction: Final = members(model.OverflowAction)
EntryAction: Final = members(model.EntryAction)
LOGGED_OUT: Final = AgentState.LOGGED_OUT
NOT_READY: Final = AgentState.NOT_READY
READY: Final = AgentState.READY
RESERVED: Final = AgentState.RESERVED
ON_CALL: Final = AgentState.ON_CALL
WRAP_UP: Final = AgentState.WRAP_UP
QUEUED: Final = live.CallPhase.QUEUED
ASSIGNED: Final = live.CallPhase.ASSIGNED
PARKED: Final = live.CallPhase.PARKED
OFFERED: Final = live.CallPhase.OFFERED
CONNECTING: Final = live.CallPhase.CONNECTING
CONNECTED: Final = live.CallPhase.CONNECTED
ENDED: Final = live.CallPhase.ENDED
T_ANSWERED: Final = Trigger.ANSWERED
T_CALL_END: Final = Trigger.CALL_END
T_CALL_END_NO_WRAP: Final = Trigger.CALL_END_NO_WRAP
T_CONNECT_FAILED: Final = Trigger.CONNECT_FAILED
T_DISCONNECT: Final = Trigger.DISCONNECT
T_LOGIN: Final = Trigger.LOGIN
T_LOGOUT: Final = Trigger.LOGOUT
T_NOT_READY: Final = Trigger.NOT_READY
T_OFFER: Final = Trigger.OFFER
T_READY: Final = Trigger.READY
T_REJECT: Final = Trigger.REJECT
T_REJECT_LIMIT: Final = Trigger.REJECT_LIMIT
T_RESTORE: Final = Trigger.RESTORE
T_RING_TIMEOUT: Final = Trigger.RING_TIMEOUT
T_WITHDRAW: Final = Trigger.WITHDRAW
T_WRAP_DONE: Final = Trigger.WRAP_DONE
INBOUND: Final = CallKind.INBOUND
ROUND_ROBIN: Final = Strategy.ROUND_ROBIN
WORK: Final = frozenset({RESERVED, ON_CALL, WRAP_UP})
STAFFED: Final = (READY, RESERVED, ON_CALL, WRAP_UP)
PENDING_OF: Final = {T_READY: READY, T_NOT_READY: NOT_READY, T_LOGOUT: LOGGED_OUT}
WAITING: Final = frozenset({QUEUED, ASSIGNED})
# Outputs built on every decision, bound once (a compiled build reads these without a lookup).
_AgentStateChanged: Final = ev.AgentStateChanged
_CallOffered: Final = ev.CallOffered
_Screen: Final = ev.Screen
_CallQueued: Final = ev.CallQueued


def _floors(config: CenterConfig) -> dict[str, int]:
    """Per group, the lowest skill level any widen rule admits agents at."""
    floors = {gid: g.min_level for gid, g in config.groups.items()}
    for g in config.groups.values():
        for rule in g.overflow:
            if rule.action is OverflowAction.WIDEN and rule.min_level is not None:
                for t in rule.targets:
                    if t in floors:
                        floors[t] = min(floors[t], rule.min_level)
    return floors


def _finite(seconds: float) -> float | None:
    return None if math.isinf(seconds) else seconds


class Engine:
    """Call distribution for one center. Feed it events; carry out what it returns."""

    def __init__(self, config: CenterConfig, *, now: float = 0.0, seed: int = 0) -> None:
        self.config = config
        self.now = now
        self.rng = random.Random(seed)
        self.timers = TimerHeap()
        self.calls: dict[str, Call] = {}
        self.agents: dict[str, Agent] = {a.id: Agent(a) for a in config.agents.values()}
        self.groups: dict[str, Group] = {}
        self._tally = Tally()  # shared by all groups: their counts by agent state
        self._stale = self._tally.stale
        floors = _floors(config)
        for g in config.groups.values():
            self.groups[g.id] = self._new_group(g, floors[g.id])
        self._out: list[Output] = []
        self._idle_seq = itertools.count(1)
        self._offer_seq = itertools.count(1)
        self._consult_seq = itertools.count(1)
        self._closed_cache: dict[str, tuple[bool, float]] = {}
        self._bases: dict[tuple[str, int], float] = {}
        self._on_ring_timeout = self._ring_timeout  # bound once: filed with every offer
        self._handlers: dict[type[ev.Event], Callable[[Any], None]] = {
            ev.EnqueueCall: self._on_enqueue,
            ev.RestoreConnected: self._on_restore_connected,
            ev.CallerHangup: self._on_caller_hangup,
            ev.CallLost: self._on_call_lost,
            ev.AgentLegAnswered: self._on_leg_answered,
            ev.AgentLegFailed: self._on_leg_failed,
            ev.AgentLegEnded: self._on_leg_ended,
            ev.HoldChanged: self._on_hold_changed,
            ev.ExternalPartyChanged: self._on_external_party,
            ev.ConsultBridged: self._on_consult_bridged,
            ev.TransferredOut: self._on_transferred_out,
            ev.TransferFailed: self._on_transfer_failed,
            ev.InterceptCall: self._on_intercept,
            ev.CallbackChosen: self._on_callback_chosen,
            ev.VoicemailChosen: self._on_voicemail_chosen,
            ev.ScheduleCallback: self._on_schedule_callback,
            ev.DialOutResult: self._on_dial_result,
            ev.VoicemailRecorded: self._on_voicemail,
            ev.AgentLogin: self._on_login,
            ev.AgentLogout: self._on_logout,
            ev.AgentReady: self._on_ready,
            ev.AgentNotReady: self._on_not_ready,
            ev.SetPending: self._on_set_pending,
            ev.AcceptOffer: self._on_accept,
            ev.RejectOffer: self._on_reject,
            ev.AgentHangup: self._on_agent_hangup,
            ev.AgentHold: self._on_agent_hold,
            ev.BlindTransfer: self._on_blind_transfer,
            ev.ConsultStart: self._on_consult_start,
            ev.ConsultComplete: self._on_consult_complete,
            ev.ConsultCancel: self._on_consult_cancel,
            ev.ConferenceMerge: self._on_conference_merge,
            ev.ConferenceDrop: self._on_conference_drop,
            ev.SendDigits: self._on_send_digits,
            ev.WrapUpCode: self._on_wrapup_code,
            ev.FinishWrapUp: self._on_finish_wrapup,
            ev.CallbackOutcome: self._on_callback_outcome,
            ev.AgentDisconnected: self._on_disconnected,
            ev.AgentReconnected: self._on_reconnected,
            ev.AssignCall: self._on_assign,
            ev.SetCallPriority: self._on_set_priority,
            ev.MoveCall: self._on_move,
            ev.WithdrawCall: self._on_withdraw,
            ev.SetAgentSkills: self._on_set_skills,
            ev.PauseGroup: self._on_pause,
            ev.Reload: self._on_reload,
            ev.Tick: lambda _e: None,
        }
        self._next_day(now)

    # ------------------------------------------------------------------ public interface

    def handle(self, event: ev.Event, now: float) -> list[Output]:
        """Process timers due by `now`, then `event`; return everything that happened.

        A refused event raises an `AcdError` and changes nothing; outputs of timers that fell
        due before it ride on the error as `error.outputs` so the host loses none of them.
        """
        timed: list[Output] | None = None  # no list built for the usual event without timers
        if self.timers.soonest <= now:
            timed = self.advance(now)
        elif now > self.now:
            self.now = now
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not an engine event: {event!r}")
        try:
            handler(event)
        except AcdError as err:
            if self._out:  # a handler must validate before it changes anything
                raise AssertionError(f"{type(event).__name__} failed after changes") from err
            err.outputs = timed or []
            raise
        out, self._out = self._out, []
        return timed + out if timed else out

    def advance(self, now: float) -> list[Output]:
        """Fire every timer due at or before `now`, each at its own deadline."""
        out: list[Output] = []
        while (t := self.timers.pop_due(now)) is not None:
            at, _, fn, arg = t
            self.now = max(self.now, at)
            fn(arg)
            if self._out:
                out.extend(self._out)
                self._out = []
        self.now = max(self.now, now)
        return out

    def next_deadline(self) -> float | None:
        """When the engine next needs `advance` (or any event) to be called."""
        return self.timers.next_deadline()

    # Views for hosts (read only) -----------------------------------------------------

    def call(self, call_id: str) -> Call:
        """A live call, or UnknownCall."""
        try:
            return self.calls[call_id]
        except KeyError:
            raise UnknownCall(f"no live call {call_id!r}", call_id=call_id) from None

    def agent(self, agent_id: str) -> Agent:
        """An agent, or UnknownAgent."""
        try:
            return self.agents[agent_id]
        except KeyError:
            raise UnknownAgent(f"no agent {agent_id!r}", agent_id=agent_id) from None

    def group(self, group_id: str) -> Group:
        """A group, or UnknownGroup."""
        try:
            return self.groups[group_id]
        except KeyError:
            raise UnknownGroup(f"no group {group_id!r}", group=group_id) from None

    def position(self, call_id: str) -> int:
        """How many calls of its home group are ahead of a waiting call (0 = next)."""
        call = self.call(call_id)
        entry = call.entries.get(call.group)
        if entry is None:
            return 0
        return call.home.queue.position(entry, self.now)

    def estimated_wait(self, call_id: str) -> float:
        """Estimated seconds until a waiting call is offered (inf when nobody is staffed)."""
        call = self.call(call_id)
        if call.phase not in WAITING:
            return 0.0
        return self._ewt(call.home, self.position(call_id))

    def waits(self, call_ids: Iterable[str]) -> dict[str, tuple[int, float]]:
        """(position, estimated wait) of each waiting call among `call_ids`, as `position`
        and `estimated_wait` give them; calls not waiting are left out. One pass over each
        home queue for all of its calls (a sweep of queue announcements)."""
        out: dict[str, tuple[int, float]] = {}
        queued: dict[str, tuple[Group, list[str], list[Entry]]] = {}
        for cid in call_ids:
            call = self.calls.get(cid)
            if call is None or call.phase not in WAITING:
                continue
            entry = call.entries.get(call.group)
            if entry is None:
                out[cid] = (0, self._ewt(call.home, 0))
                continue
            got = queued.get(call.group)
            if got is None:
                got = queued[call.group] = (call.home, [], [])
            got[1].append(cid)
            got[2].append(entry)
        for g, cids, entries in queued.values():
            for cid, pos in zip(cids, g.queue.positions(entries, self.now), strict=True):
                out[cid] = (pos, self._ewt(g, pos))
        return out

    def estimated_wait_new(self, group_id: str) -> float:
        """Estimated wait of a call entering `group_id` now (for IVR decisions)."""
        g = self.group(group_id)
        if self._ready_agents(g):
            return 0.0
        return self._ewt(g, len(g.home))

    def ready_agents(self, group_id: str) -> int:
        """READY agents of a group at its own minimum level."""
        return self._ready_agents(self.group(group_id))

    def signed_in(self, group_id: str) -> int:
        """Signed-in agents of a group at its own minimum level."""
        return sum(self.group(group_id).counts.values())

    def is_open(self, group_id: str) -> bool:
        """Whether the group takes new calls now (calendar open and not paused)."""
        g = self.group(group_id)
        return not g.paused and self._calendar_open(g.cfg)

    def oldest_wait(self, group_id: str) -> float:
        """Seconds the longest-waiting call of the group has waited."""
        g = self.group(group_id)
        oldest = min((c.wait_from for c in g.home.values()), default=None)
        return 0.0 if oldest is None else self.now - oldest

    def waiting_calls(self, group_id: str) -> Iterator[Call]:
        """Calls waiting with this group as home, in no order."""
        return iter(list(self.group(group_id).home.values()))

    # ------------------------------------------------------------------ helpers

    def _emit(self, out: Output) -> None:
        self._out.append(out)  # hot paths append directly

    def _new_group(self, cfg: SkillGroup, floor: int) -> Group:
        stats = GroupStats(
            self.config.timezone, self.config.interval_minutes, cfg.target.seconds, cfg.expected_aht
        )
        lane = self.timers.lane(cfg.ring_timeout)
        return Group(cfg, stats, floor, self._new_queue(cfg), self._tally, lane)

    def _new_queue(self, cfg: SkillGroup) -> GroupQueue:
        return GroupQueue(cfg.id, cfg.ageing_rate, self.config.ageing_ceiling(cfg), self.now)

    def _live_agent(self, agent_id: str) -> Agent:
        agent = self.agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(f"no agent {agent_id!r}", agent_id=agent_id)
        if agent.state is LOGGED_OUT:
            raise WrongState(f"agent {agent_id} is not signed in", agent_id=agent_id)
        return agent

    def _own_call(self, agent_id: str, call_id: str) -> tuple[Agent, Call]:
        """An agent and a connected call it is on; Forbidden for anyone else's call."""
        agent = self._live_agent(agent_id)
        call = self.call(call_id)
        if agent not in call.agents:
            raise Forbidden(f"call {call_id} is not agent {agent_id}'s", call_id=call_id)
        if call.phase is not CONNECTED:
            raise WrongState(f"call {call_id} is {call.phase.value}", call_id=call_id)
        return agent, call

    def _check_reason(self, reason: str) -> None:
        if reason not in self.config.reasons:
            raise UnknownReason(f"unknown not-ready reason {reason!r}", reason=reason)

    def _ready_agents(self, g: Group) -> int:
        return g.counts.get(READY, 0)

    def _ewt(self, g: Group, position: int) -> float:
        """(position + 1) x smoothed handle time / staffed agents (see docs/routing.md)."""
        staffed = sum(g.counts.get(s, 0) for s in STAFFED)
        if staffed == 0:
            return math.inf
        return (position + 1) * g.stats.aht / staffed

    def _base(self, brand: str, vip: int) -> float:
        """Base priority of a brand and VIP level (remembered: every arrival asks)."""
        key = (brand, vip)
        base = self._bases.get(key)
        if base is None:
            base = self.config.priorities.base(brand, vip)
            if len(self._bases) < 4096:  # brands and levels come from config; stay bounded
                self._bases[key] = base
        return base

    def _calendar_open(self, cfg: SkillGroup) -> bool:
        if cfg.calendar is None:
            return True
        cached = self._closed_cache.get(cfg.calendar)
        if cached is not None and self.now < cached[1]:
            return cached[0]
        cal = self.config.calendars[cfg.calendar]
        state = cal.is_open(self.now)
        self._closed_cache[cfg.calendar] = (state, cal.next_change(self.now))
        return state

    def _match_key(self, call: Call, cfg: SkillGroup) -> MatchKey:
        if not cfg.match:
            return ()
        attrs = call.info.attributes
        return tuple(attrs.get(ca) for ca, _ in cfg.match)

    def _serves(self, agent: Agent, cfg: SkillGroup, key: MatchKey) -> bool:
        """Whether the agent's attribute sets cover the call's values (None matches all)."""
        for value, (_, aa) in zip(key, cfg.match, strict=True):
            if value is not None and value not in agent.attrs.get(aa, ()):
                return False
        return True

    def _members(self, agent: Agent) -> tuple[str, ...]:
        """Groups the agent may serve, in its own order first, then config order."""
        # Retired groups (gone from a reloaded config) stay served until they empty.
        ok = [gid for gid, g in self.groups.items() if agent.level(g.cfg.skill) >= g.floor]
        first = [gid for gid in agent.order if gid in ok]
        return tuple(first + [gid for gid in ok if gid not in first])

    def _index(self, agent: Agent) -> None:
        """Recompute the groups an agent serves (after sign-in, skill change or reload)."""
        agent.members = self._members(agent)
        scan = tuple(
            (self.groups[gid], agent.level(self.groups[gid].cfg.skill)) for gid in agent.members
        )
        agent.scan = scan
        agent.counted = tuple(g for g, level in scan if level >= g.cfg.min_level)
        agent.tallies = tuple(g.raw_counts for g in agent.counted)
        # Its places in the pools it joins when idle, made now so that going idle is only a
        # few joins.
        plan: list[tuple[Group, tuple[Link, ...]]] = []
        for g, _ in scan:
            values: list[str | None] = [None]
            if g.cfg.match:
                values.extend(agent.attrs.get(g.cfg.match[0][1], ()))
            links: list[Link] = []
            for value in values:
                pool = g.pools.get(value)
                if pool is None:
                    pool = g.pools[value] = new_pool(g.cfg.strategy)
                links.append(Link(pool, agent))
            plan.append((g, tuple(links)))
        agent.idle_plan = tuple(plan)
        agent.idle_links = tuple(link for _, links in plan for link in links)
        # Longest-idle pools keep arrival order and need no key.
        agent.idle_fifo = all(g.cfg.strategy is Strategy.LONGEST_IDLE for g, _ in scan)

    def _count(self, agent: Agent, delta: int) -> None:
        """Add the agent to (+1) or take it from (-1) its groups' counts by state."""
        if delta < 0:
            state = agent.counted_as  # where the counts hold it, whatever it is now
            agent.counted_as = None
        else:
            state = agent.state
            agent.counted_as = None if state is LOGGED_OUT else state
        if state is None or state is LOGGED_OUT:
            return
        for c in agent.tallies:
            c[state] += delta

    # ------------------------------------------------------------------ agent states

    def _change(
        self, agent: Agent, trigger: Trigger, reason: str = "", actor: str = "", call_id: str = ""
    ) -> None:
        """The one place an agent's state changes (the table in acd.states decides)."""
        old = agent.state
        result = agent.moves.get(trigger)
        if result is None:
            transition(old, trigger)  # raises IllegalTransition, nothing changed
        if result is DEFER:
            agent.pending = PENDING_OF[trigger]
            agent.pending_reason = reason
            agent.pending_actor = actor
            self._out.append(
                _AgentStateChanged(
                    self.now, agent.id, old, old, agent.reason, actor, agent.pending, reason,
                    call_id,
                )
            )  # fmt: skip
            return
        assert isinstance(result, AgentState)
        new = result
        pending = agent.pending
        if pending is not None and old in WORK and new not in WORK:
            if new is READY or pending is LOGGED_OUT:
                new, reason, actor = pending, agent.pending_reason, agent.pending_actor
            agent.pending = pending = None
        if new is READY:
            if agent.online:
                reason = ""
            else:
                new, reason = NOT_READY, "disconnected"
        elif new is NOT_READY:
            reason = reason or ("forced" if actor else "login")
        else:
            reason = ""
        if old is new and reason == agent.reason:
            return
        if old is READY and agent.pools:
            self._leave_idle(agent)
        now = self.now
        if old is not LOGGED_OUT and new is not LOGGED_OUT:
            if not agent.stale:  # its groups' counts catch up when read (live.Tally)
                agent.stale = True
                self._stale.append(agent)
        else:
            self._count_sign(agent, new)
        agent.state = new
        agent.moves = BY_STATE[new]
        agent.reason = reason
        agent.since = now
        if new is LOGGED_OUT:
            self._signed_out(agent)
        self._out.append(
            _AgentStateChanged(
                now, agent.id, old, new, reason, actor, pending, agent.pending_reason, call_id
            )
        )
        if new is READY:
            if trigger is T_READY:
                agent.misses = 0
            if agent.offer is None and agent.available_at <= now:
                self._match_agent(agent)  # no pools to leave: it was not READY before

    def _count_sign(self, agent: Agent, new: AgentState) -> None:
        """Counts for a sign-in or sign-out (the rare changes that touch LOGGED_OUT)."""
        was = agent.counted_as
        agent.counted_as = None if new is LOGGED_OUT else new
        for g in agent.counted:
            c = g.raw_counts  # totals are exact even while some agents are marked stale
            if was is not None:
                c[was] -= 1
            if new is not LOGGED_OUT:
                c[new] += 1
            elif g.home and g.state_rules and not any(c.values()):
                # "no agent signed in" must act at once, not at the next periodic check.
                self._schedule_check(g, self.now)

    def _signed_out(self, agent: Agent) -> None:
        agent.pending = None
        agent.misses = 0
        agent.online = False
        if agent.cooldown is not None:
            cancel_timer(agent.cooldown)
            agent.cooldown = None
        agent.available_at = min(agent.available_at, self.now)  # a new sign-in starts afresh
        while agent.assigned:
            call = agent.assigned.popleft()
            if call.phase is ASSIGNED and call.assigned_to is agent:
                call.assigned_to = None
                self._requeue(call)
        if agent.id not in self.config.agents:
            del self.agents[agent.id]  # removed by a reload, gone once signed out

    def _available(self, agent: Agent) -> None:
        """An agent may take work now: give it some, or make it idle."""
        if agent.state is not READY or agent.offer is not None or agent.available_at > self.now:
            return
        self._leave_idle(agent)
        self._match_agent(agent)

    def _enter_idle(self, agent: Agent) -> None:
        agent.idle_seq = next(self._idle_seq)
        agent.idle_since = self.now
        agent.pools = agent.idle_links  # made by _index
        if agent.idle_fifo:
            for link in agent.idle_links:
                link.pool.join(link, ())
            return
        for g, links in agent.idle_plan:
            key = self._strategy_key(agent, g)
            for link in links:
                link.pool.join(link, key)

    def _next_day(self, now: float) -> None:
        """File the day roll at the next local midnight of the center."""
        self.timers.add(bounds(now, self.config.timezone, 86400)[1], self._new_day)

    def _new_day(self, _arg: object) -> None:
        """Local midnight: the agents' counters of the day (the keys of `fewest-calls` and
        `least-talk-time`) start again, as a server started today would have them."""
        for agent in self.agents.values():
            agent.handled = 0
            agent.talk = 0.0
            if agent.pools and not agent.idle_fifo:  # idle: its places take the new keys
                self._leave_idle(agent)
                agent.pools = agent.idle_links
                for g, links in agent.idle_plan:
                    key = self._strategy_key(agent, g)
                    for link in links:
                        link.pool.join(link, key)
        self._next_day(self.now + 1.0)

    def _leave_idle(self, agent: Agent) -> None:
        links = agent.pools
        if links:
            for link in links:
                link.pool.unlink(link)
            agent.pools = ()

    def _strategy_key(self, agent: Agent, g: Group) -> tuple[float, ...]:
        s = g.cfg.strategy
        seq = float(agent.idle_seq)
        if s is Strategy.MOST_SKILLED:
            return (-float(agent.level(g.cfg.skill)), seq)
        if s is Strategy.FEWEST_CALLS:
            return (float(agent.handled), seq)
        if s is Strategy.LEAST_TALK_TIME:
            return (agent.talk, seq)
        if s is ROUND_ROBIN:
            return (float(agent.last_offer.get(g.cfg.id, 0)), seq)
        if s is Strategy.RANDOM:
            return (self.rng.random(),)
        if s is Strategy.LEAST_VERSATILE:
            spread = sum(len(agent.attrs.get(aa, ())) for _, aa in g.cfg.match)
            return (float(spread or len(agent.members)), seq)
        return (seq,)

    # ------------------------------------------------------------------ matching

    def _match_call(self, call: Call) -> None:
        """Offer a waiting call to the best idle agent of its groups, if any."""
        if call.phase is not QUEUED:
            return
        for gid, level in call.targets.items():
            g = self.groups[gid]
            cfg = g.cfg
            if cfg.match:
                key = self._match_key(call, cfg)
                pool = g.pools.get(key[0])
            else:
                key = ()
                pool = g.pools.get(None)
            if pool is None or not pool.size:
                continue
            if len(key) < 2 and level <= g.floor:
                # Everyone in this pool has the level and the only attribute: take the first.
                agent = pool.head()
                assert agent is not None  # members is not empty
                self._offer(call, agent, g)
                return
            skill = cfg.skill

            def ok(
                a: Agent,
                level: int = level,
                skill: str = skill,
                key: MatchKey = key,
                cfg: SkillGroup = cfg,
            ) -> bool:
                return bool(a.level(skill) >= level and self._serves(a, cfg, key))

            agent = pool.first(ok)
            if agent is not None:
                self._offer(call, agent, g)
                return

    def _match_agent(self, agent: Agent) -> None:
        """Give an available agent its assigned call, or the best call it can serve."""
        while agent.assigned:
            call = agent.assigned.popleft()
            if call.phase is ASSIGNED and call.assigned_to is agent:
                self._offer(call, agent, call.home)
                return
        now = self.now
        for g, level in agent.scan:
            q = g.queue
            if not q.count:
                continue
            only = q.only
            if only is not None and not g.cfg.match:  # the common case: one partition
                e = q.head_of(only, now) if only.level <= level else None
                if e is not None:
                    self._offer(e.call, agent, g)
                    return
                continue
            best: Entry | None = None
            best_rank = 0
            for part in q.parts.values():
                if part.level > level or not self._serves(agent, g.cfg, part.key):
                    continue
                e = q.head_of(part, now)
                if e is None:
                    continue
                r = q.rank(e, now)
                if best is None or r < best_rank:
                    best, best_rank = e, r
            if best is not None:
                self._offer(best.call, agent, g)
                return
        self._enter_idle(agent)

    def _offer(self, call: Call, agent: Agent, via: Group) -> None:
        if call.entries:
            self._unqueue(call)
        else:  # matched on arrival, never filed: only the home index may hold it
            waiting = call.home.home
            if call.id in waiting:  # `in` and `del`: no method call in a compiled build
                del waiting[call.id]
        call.phase = OFFERED
        call.agent = agent
        if agent.pools:
            self._leave_idle(agent)
        agent.offer = call
        cid = call.id
        gid = call.group
        agent.last_call = cid
        self._change(agent, T_OFFER, call_id=cid)
        now = self.now
        call.timer = timer = self.timers.add_after(
            call.home.ring_lane, now, self._on_ring_timeout, call
        )
        deadline: float = timer[0]
        if via.cfg.strategy is ROUND_ROBIN:
            agent.last_offer[via.cfg.id] = next(self._offer_seq)
        kind = call.kind
        owner = call.owner
        # Positional: the fields of Screen in order (keywords cost more to build).
        screen = _Screen(
            call.info,
            kind,
            gid,
            now - call.wait_from,
            "" if kind is INBOUND else call.number,
            call.voicemail,
            "" if owner is None else owner.id,
            call.attempts,
        )
        self._out.append(_CallOffered(now, cid, agent.id, gid, deadline, screen, call.assigned_by))

    # ------------------------------------------------------------------ queueing

    def _rehome(self, call: Call, g: Group) -> None:
        """Give a call a new home group (the id and the group go together)."""
        call.home = g
        call.group = g.cfg.id

    def _queue(self, call: Call) -> None:
        """Put the call in the queue of every group it targets (its place is its own)."""
        call.phase = QUEUED
        for gid, level in call.targets.items():
            g = self.groups[gid]
            e = Entry(call, gid, call.base, call.queued_at, level)
            g.queue.push(e, self._match_key(call, g.cfg), self.now)
            call.entries[gid] = e
        call.home.home[call.id] = call

    def _unqueue(self, call: Call) -> None:
        entries = call.entries
        if entries:
            for e in entries.values():
                queue = e.queue
                assert queue is not None
                queue.remove(e)
            entries.clear()
        waiting = call.home.home  # a retired home group is out of self.groups: no lookup
        if call.id in waiting:
            del waiting[call.id]

    def _requeue(self, call: Call) -> None:
        """An offer fell through: the call goes back to its place and is matched again."""
        call.agent = None
        if call.timer is not None:
            cancel_timer(call.timer)
            call.timer = None
        if call.kind is CallKind.CONSULT and not call.targets:
            self._end(call, Cause.ENDED, "system")  # a consult to one agent that failed
            return
        call.assigned_to = None
        call.assigned_by = ""
        self._queue(call)
        self._emit(
            _CallQueued(self.now, call.id, call.group, call.kind, call.base, call.queued_at, True)
        )
        self._match_call(call)
        self._rules(call)

    def _admit(self, call: Call, g: Group, depth: int = 0, restoring: bool = False) -> None:
        """A new call for group `g`: refuse it (closed, paused, full) or queue and match it."""
        cfg = g.cfg
        if not restoring:
            reason = ""
            if g.paused or g.retired:
                reason = "paused"
            elif cfg.calendar is not None and not self._calendar_open(cfg):
                reason = "closed"
            elif cfg.capacity and len(g.home) >= cfg.capacity and self._full(g):
                reason = "full"
            if reason:
                self._refuse(call, g, reason, depth)
                return
        self._rehome(call, g)
        call.targets = {cfg.id: cfg.min_level}
        if cfg.id not in call.groups_seen:
            call.groups_seen.append(cfg.id)
        g.stats.offered(self.now)
        self._out.append(
            _CallQueued(
                self.now, call.id, cfg.id, call.kind, call.base, call.queued_at, False, restoring
            )
        )
        call.phase = QUEUED
        self._match_call(call)  # an idle agent takes it before it is ever filed
        if call.phase is not QUEUED:
            return
        self._queue(call)
        if call.kind is not INBOUND:
            return
        offer_at = cfg.callback.offer_when_estimated_wait
        if offer_at is not None and call.caller_present:
            wait = self.estimated_wait(call.id)
            if wait >= offer_at:
                self._emit(ev.OfferCallback(self.now, call.id, cfg.id, _finite(wait)))
        self._rules(call)

    def _full(self, g: Group) -> bool:
        """Whether callers on the line fill the group (callback tasks hold no line)."""
        return sum(1 for c in g.home.values() if c.caller_present) >= g.cfg.capacity

    def _refuse(self, call: Call, g: Group, reason: str, depth: int) -> None:
        cfg = g.cfg
        rule: EntryRule = cfg.full if reason == "full" else cfg.closed
        if reason == "full":
            g.stats.blocked(self.now)
        self._emit(ev.CallBlocked(self.now, call.id, cfg.id, reason))
        cause = Cause.BLOCKED if reason == "full" else Cause.CLOSED
        action = rule.action
        if action is EntryAction.MOVE and (depth >= 4 or rule.target not in self.groups):
            action = EntryAction.MESSAGE
        if action is EntryAction.MOVE:
            assert rule.target is not None
            self._emit(ev.CallOverflowed(self.now, call.id, cfg.id, rule.target, "move", reason))
            self._admit(call, self.groups[rule.target], depth + 1)
        elif action is EntryAction.VOICEMAIL:
            self._rehome(call, g)
            self._park(call, None, "voicemail")
            self._emit(ev.RecordVoicemail(self.now, call.id, cfg.id))
        elif action is EntryAction.CALLBACK:
            self._rehome(call, g)
            self._park(call, None, "callback:" + cause.value)
            self._emit(ev.OfferCallback(self.now, call.id, cfg.id, None))
        else:
            self._emit(ev.EntryTreatment(self.now, call.id, cfg.id, reason, rule.prompt))
            self._end(call, cause, "system")

    def _park(self, call: Call, until: float | None, why: str) -> None:
        """Out of the queues: until a timer (retry, schedule) or an event (voicemail...)."""
        self._unqueue(call)
        if call.rule_timer is not None:
            cancel_timer(call.rule_timer)
            call.rule_timer = None
        call.phase = PARKED
        call.parked_for = why
        if call.timer is not None:
            cancel_timer(call.timer)
        call.timer = None if until is None else self.timers.add(until, self._unpark, call)

    def _unpark(self, call: Call) -> None:
        call.timer = None
        if call.phase is PARKED:
            call.parked_for = ""
            if not call.targets:
                call.targets = {call.group: call.home.cfg.min_level}
            self._queue(call)
            self._emit(
                _CallQueued(
                    self.now, call.id, call.group, call.kind, call.base, call.queued_at, True
                )
            )
            self._match_call(call)

    # ------------------------------------------------------------------ overflow rules

    def _rules(self, call: Call) -> None:
        """Apply the home group's due overflow rules to a waiting inbound call."""
        if call.rule_timer is not None:
            cancel_timer(call.rule_timer)
            call.rule_timer = None
        if call.phase is not QUEUED or not call.caller_present:
            return
        g = call.home
        next_due = math.inf
        for i, rule in enumerate(g.cfg.overflow):
            if i in call.fired:
                continue
            w = rule.when
            # Compare with the very sum the timer fires at: a difference could round below.
            if w.waited is not None and self.now < call.entered_at + w.waited:
                next_due = min(next_due, call.entered_at + w.waited)
                continue
            if not self._holds(w, call, g):
                continue
            self._fire(call, g, i, rule)
            if call.phase is not QUEUED or call.group != g.cfg.id:
                return
        if next_due != math.inf:
            call.rule_timer = self.timers.add(next_due, self._rule_timer, call)
        if g.state_rules:
            self._schedule_check(g, self.now + self.config.overflow_check_period)

    def _rule_timer(self, call: Call) -> None:
        call.rule_timer = None
        self._rules(call)

    def _schedule_check(self, g: Group, at: float) -> None:
        if g.check is not None and timer_deadline(g.check) <= at:
            return
        if g.check is not None:
            cancel_timer(g.check)
        g.check = self.timers.add(at, self._group_check, g)

    def _group_check(self, g: Group) -> None:
        g.check = None
        for call in list(g.home.values()):
            if call.id in self.calls and call.group == g.cfg.id:
                self._rules(call)

    def _holds(self, w: Conditions, call: Call, g: Group) -> bool:
        if w.is_empty():
            return False
        if w.queue_length is not None and len(g.home) < w.queue_length:
            return False
        if w.no_agent_signed_in and sum(g.counts.values()) > 0:
            return False
        if w.no_agent_ready and self._ready_agents(g) > 0:
            return False
        if w.service_level_below is not None:
            sl = g.stats.service_level(self.now)
            if sl is None or sl >= w.service_level_below:
                return False
        return w.estimated_wait is None or self.estimated_wait(call.id) >= w.estimated_wait

    def _fire(self, call: Call, g: Group, index: int, rule: OverflowRule) -> None:
        call.fired = call.fired | {index}
        gid = g.cfg.id
        if rule.action is OverflowAction.WIDEN:
            widened = False
            for t in rule.targets:
                tg = self.groups.get(t)
                if tg is None:
                    continue
                level = rule.min_level if rule.min_level is not None else tg.cfg.min_level
                if t in call.targets and call.targets[t] <= level:
                    continue
                old = call.entries.pop(t, None)
                if old is not None:
                    tg.queue.remove(old)
                call.targets[t] = level
                e = Entry(call, t, call.base, call.queued_at, level)
                tg.queue.push(e, self._match_key(call, tg.cfg), self.now)
                call.entries[t] = e
                widened = True
                self._emit(ev.CallOverflowed(self.now, call.id, gid, t, "widen", rule.name))
            if widened:
                self._match_call(call)
        elif rule.action is OverflowAction.MOVE:
            for t in rule.targets:
                tg = self.groups.get(t)
                if tg is not None and not tg.paused and self._calendar_open(tg.cfg):
                    self._move(call, tg, rule.name, "")
                    return
            call.fired = call.fired - {index}  # no target open now: try again later
        elif rule.action is OverflowAction.CALLBACK:
            wait = _finite(self.estimated_wait(call.id))
            self._emit(ev.OfferCallback(self.now, call.id, gid, wait))
        else:
            self._emit(ev.CallOverflowed(self.now, call.id, gid, gid, "voicemail", rule.name))
            self._park(call, None, "voicemail")
            self._emit(ev.RecordVoicemail(self.now, call.id, gid))

    def _move(self, call: Call, to: Group, rule: str, actor: str) -> None:
        """Move a waiting call to another group: same place, the new group's rules."""
        old = call.group
        self._unqueue(call)
        self._rehome(call, to)
        call.targets = {to.cfg.id: to.cfg.min_level}
        call.entered_at = self.now
        call.fired = NONE_FIRED
        if to.cfg.id not in call.groups_seen:
            call.groups_seen.append(to.cfg.id)
        self._emit(ev.CallOverflowed(self.now, call.id, old, to.cfg.id, "move", rule, actor))
        to.stats.offered(self.now)
        self._queue(call)
        self._emit(_CallQueued(self.now, call.id, to.cfg.id, call.kind, call.base, call.queued_at))
        self._match_call(call)
        self._rules(call)

    # ------------------------------------------------------------------ calls: caller side

    def _on_enqueue(self, e: ev.EnqueueCall) -> None:
        # Each field is read once: reading an event's field is a lookup, not a C load.
        info = e.call
        cid = info.id
        if cid in self.calls:
            raise DuplicateCall(f"call {cid} is already live", call_id=cid)
        gid = e.group
        g = self.groups.get(gid) or self.group(gid)  # the latter raises
        priority, bonus = e.priority, e.bonus
        brand, vip = info.brand, info.vip
        if priority is None and not bonus:
            base = self._bases.get((brand, vip))
            if base is None:
                base = self._base(brand, vip)
        else:
            pr = self.config.priorities
            if priority is not None:
                base = min(pr.ceiling, max(pr.floor, priority + bonus))
            else:
                base = pr.base(brand, vip, bonus)
        restored_at = e.queued_at
        call = Call(info, INBOUND, g, base, self.now if restored_at is None else restored_at)
        self.calls[cid] = call
        self._admit(call, g, restoring=restored_at is not None)

    def _on_restore_connected(self, e: ev.RestoreConnected) -> None:
        if e.call.id in self.calls:
            raise DuplicateCall(f"call {e.call.id} is already live", call_id=e.call.id)
        g = self.group(e.group)
        agent = self.agent(e.agent_id)
        if agent.offer is not None or agent.state is RESERVED:
            raise WrongState(f"agent {agent.id} has an offer ringing", agent_id=agent.id)
        if e.kind is CallKind.CONSULT:
            raise WrongState("a consult leg is not restored on its own", call_id=e.call.id)
        pr = self.config.priorities
        base = (
            pr.base(e.call.brand, e.call.vip)
            if e.priority is None
            else min(pr.ceiling, max(pr.floor, e.priority))
        )
        call = Call(e.call, e.kind, g, base, e.queued_at)
        if e.kind is not INBOUND:
            call.number = e.call.caller
        call.answered_at = e.answered_at
        call.targets = {g.cfg.id: g.cfg.min_level}
        self.calls[call.id] = call
        if agent.state is LOGGED_OUT:
            self._index(agent)
        if agent.state is WRAP_UP and agent.wrap is not None:
            self._end_wrap(agent)
        self._join(call, agent, e.answered_at)
        if e.held:
            call.held = True
            call.held_since = self.now
        if agent.pending is None and not agent.online:
            agent.pending, agent.pending_reason = NOT_READY, "recovered"

    def _on_caller_hangup(self, e: ev.CallerHangup) -> None:
        call = self.call(e.call_id)
        phase = call.phase
        # A connected callback or voicemail task has the customer on the line again.
        if not call.caller_present and phase is not CONNECTED:
            raise WrongState(f"call {call.id} has no caller on the line", call_id=call.id)
        if phase in WAITING:
            self._abandon(call, ringing=False)
        elif phase in (OFFERED, CONNECTING):
            agent = call.agent
            assert agent is not None
            self._withdraw(call, agent, "caller hung up")
            self._abandon(call, ringing=True)
            self._change(agent, T_WITHDRAW, call_id=call.id)
        elif phase is PARKED:
            if call.parked_for == "voicemail":
                self._end(call, Cause.VOICEMAIL_EMPTY, "caller")
            else:
                cause = call.parked_for.partition(":")[2] or Cause.CLOSED.value
                self._end(call, EndCause(cause), "caller")
        else:
            self._end_connected(call, "caller")

    def _on_call_lost(self, e: ev.CallLost) -> None:
        call = self.call(e.call_id)
        if call.phase in (OFFERED, CONNECTING):
            agent = call.agent
            assert agent is not None
            self._withdraw(call, agent, "call lost")
            self._end(call, Cause.LOST, "system")
            self._change(agent, T_WITHDRAW, call_id=call.id)
        elif call.phase is CONNECTED:
            self._end_connected(call, "system", Cause.LOST)
        else:
            self._end(call, Cause.LOST, "system")

    def _withdraw(self, call: Call, agent: Agent, reason: str) -> None:
        """Stop an offer (ringing or connecting) without deciding where the agent goes."""
        if call.timer is not None:
            cancel_timer(call.timer)
            call.timer = None
        if call.phase is OFFERED:
            self._emit(ev.OfferEnded(self.now, call.id, agent.id, call.group, "withdrawn", reason))
        call.agent = None
        agent.offer = None

    def _abandon(self, call: Call, ringing: bool) -> None:
        wait = self.now - call.wait_from
        g = call.home
        if call.kind is INBOUND:
            g.stats.abandoned(self.now, wait)
        self._emit(ev.CallAbandoned(self.now, call.id, call.group, wait, ringing))
        self._end(call, Cause.ABANDONED, "caller")

    def _end_connected(self, call: Call, by: str, cause: EndCause = Cause.COMPLETED) -> None:
        """The customer's side ended: every agent leaves, the open consult goes too."""
        consult = call.consult
        if consult is not None:
            self._drop_consult(consult)
        agents = list(call.agents)
        self._end(call, cause if call.kind is not CallKind.CONSULT else Cause.ENDED, by)
        for agent in agents:
            self._leave(call, agent)

    def _drop_consult(self, consult: Call) -> None:
        for a in list(consult.agents):
            self._emit(ev.DropLeg(self.now, consult.id, a.id, "consult ended"))
            self._leave(consult, a)
        for x in consult.external:
            self._emit(ev.DropLeg(self.now, consult.id, x, "consult ended"))
        consult.external = []
        if consult.phase in (OFFERED, CONNECTING) and consult.agent:
            agent = consult.agent
            self._withdraw(consult, agent, "consult ended")
            self._end(consult, Cause.ENDED, "system")
            self._change(agent, T_WITHDRAW, call_id=consult.id)
            return
        self._end(consult, Cause.ENDED, "system")

    def _end(self, call: Call, cause: EndCause, by: str) -> None:
        """The call's one final state."""
        if call.phase is ENDED:
            return
        self._close_span(call)
        if call.held:
            call.hold_total += self.now - call.held_since
            call.held = False
        for t in (call.timer, call.rule_timer):
            if t is not None:
                cancel_timer(t)
        call.timer = call.rule_timer = None
        self._unqueue(call)
        call.phase = ENDED
        self.calls.pop(call.id, None)
        parent = call.parent
        if parent is not None and parent.consult is call:
            parent.consult = None
            if parent.phase is CONNECTED:
                self._parties(parent, "consult_ended")
        self._emit(
            ev.CallEnded(
                self.now,
                call.id,
                call.group,
                call.kind,
                cause,
                tuple(call.served),
                call.queued_at if call.kind is not CallKind.CONSULT else None,
                call.answered_at,
                call.talk_total,
                call.hold_total,
                tuple(call.groups_seen),
                by,
                call.info,
                call.number if call.kind is not INBOUND else "",
                call.voicemail,
                call.attempts,
            )
        )

    def _close_span(self, call: Call) -> None:
        if call.connected_at is not None:
            call.talk_total += self.now - call.connected_at
            call.connected_at = None

    def _parties(self, call: Call, what: str) -> None:
        self._emit(
            ev.CallPartiesChanged(
                self.now,
                call.id,
                tuple(a.id for a in call.agents),
                tuple(call.external),
                call.held,
                what,
            )
        )

    # ------------------------------------------------------------------ legs (switch)

    def _join(self, call: Call, agent: Agent, at: float | None = None) -> None:
        """An agent's leg is up on the call."""
        call.phase = CONNECTED
        if call.connected_at is None:
            call.connected_at = self.now
        call.agents.append(agent)
        if agent.id not in call.served:
            call.served.append(agent.id)
        agent.calls.append(call)
        agent.joined[call.id] = self.now if at is None else at
        trig = T_ANSWERED if agent.state is RESERVED else T_RESTORE
        if agent.state is not ON_CALL:
            if agent.state is LOGGED_OUT or not agent.members:
                self._index(agent)
            self._change(agent, trig, call_id=call.id)
        self._parties(call, "connected")

    def _connecting(self, call_id: str, agent_id: str) -> tuple[Call, Agent]:
        call = self.call(call_id)
        agent = self.agent(agent_id)
        if call.phase is not CONNECTING or call.agent is not agent:
            raise WrongState(f"call {call_id} is not connecting to {agent_id}", call_id=call_id)
        return call, agent

    def _on_leg_answered(self, e: ev.AgentLegAnswered) -> None:
        call, agent = self._connecting(e.call_id, e.agent_id)
        if call.kind in (CallKind.CALLBACK, CallKind.VOICEMAIL):
            raise WrongState("callback legs are confirmed by DialOutResult", call_id=call.id)
        call.agent = None
        agent.offer = None
        self._answered(call, agent)

    def _answered(self, call: Call, agent: Agent) -> None:
        wait = self.now - call.wait_from
        first = call.answered_at is None
        if first:
            call.answered_at = self.now
        if call.kind is INBOUND:
            call.home.stats.answered(self.now, wait)
        self._join(call, agent)
        self._emit(ev.CallAnswered(self.now, call.id, agent.id, call.group, call.kind, wait))
        parent = call.parent
        if parent is not None and call.conference_on_answer and parent.consult is call:
            self._emit(ev.BridgeConsult(self.now, parent.id, call.id, True))

    def _on_leg_failed(self, e: ev.AgentLegFailed) -> None:
        call, agent = self._connecting(e.call_id, e.agent_id)
        self._withdraw(call, agent, e.reason)
        self._change(agent, T_CONNECT_FAILED, "connect-failed", call_id=call.id)
        self._requeue(call)

    def _on_leg_ended(self, e: ev.AgentLegEnded) -> None:
        call = self.call(e.call_id)
        agent = self.agent(e.agent_id)
        if call.phase is CONNECTING and call.agent is agent:
            self._on_leg_failed(ev.AgentLegFailed(e.call_id, e.agent_id, "leg ended"))
            return
        if agent not in call.agents:
            raise WrongState(f"agent {agent.id} is not on call {call.id}", call_id=call.id)
        transfer = call.transfer
        if transfer is not None and transfer[1] is agent and call.consult is None:
            call.transfer = None
            self._leave(call, agent)
            self._transfer_in(call, transfer[0])
            return
        if call.consult is not None and call.consult.owner is agent:
            self._drop_consult(call.consult)
        if len(call.agents) > 1 or (call.external and call.kind is CallKind.CONSULT):
            self._leave(call, agent)
            self._parties(call, "party_left")
        else:
            self._finish(call, agent.id)  # the record first, then the agent's next state
            self._leave(call, agent)

    def _finish(self, call: Call, by: str) -> None:
        """The last agent left a connected call."""
        outcome = call.outcome
        if call.kind in (CallKind.CALLBACK, CallKind.VOICEMAIL) and outcome is not None:
            what, at = outcome
            if what == "no_answer":
                self._close_span(call)
                self._retry_or_fail(call)
                return
            if what == "reschedule" and at is not None:
                self._close_span(call)
                call.attempts += 1
                self._park(call, at, "scheduled")
                self._emit(
                    ev.CallbackQueued(
                        self.now, call.id, call.group, call.kind, at, call.attempts, call.number
                    )
                )
                return
            if what == "cancelled":
                self._end(call, Cause.CANCELLED, by)
                return
        cause = Cause.ENDED if call.kind is CallKind.CONSULT else Cause.COMPLETED
        self._end(call, cause, by)

    def _transfer_in(self, call: Call, target: ev.Target) -> None:
        """A blind transfer inside the center: queue the caller for the target."""
        self._close_span(call)
        if call.held:
            call.hold_total += self.now - call.held_since
            call.held = False
        call.wait_from = self.now
        if target.kind is TargetKind.AGENT and target.value in self.agents:
            b = self.agents[target.value]
            if b.state is not LOGGED_OUT:
                self._assign(call, b, "transfer")
                return
        g = self.groups.get(target.value) if target.kind is TargetKind.GROUP else None
        g = g or call.home
        self._rehome(call, g)
        call.targets = {g.cfg.id: g.cfg.min_level}
        call.entered_at = self.now
        call.fired = NONE_FIRED
        if g.cfg.id not in call.groups_seen:
            call.groups_seen.append(g.cfg.id)
        g.stats.offered(self.now)
        self._queue(call)
        self._emit(_CallQueued(self.now, call.id, g.cfg.id, call.kind, call.base, call.queued_at))
        self._match_call(call)
        self._rules(call)

    def _leave(self, call: Call, agent: Agent) -> None:
        """An agent's part in a call is over: after-call work or the next state."""
        call.agents.remove(agent)
        agent.calls.remove(call)
        joined = agent.joined.pop(call.id, self.now)
        talk = self.now - joined
        agent.talk += talk
        if agent.calls:
            return
        group = call.parent.group if call.parent is not None else call.group
        g = self.groups[group]
        mode = g.cfg.wrap_up.mode
        if agent.state is not ON_CALL:
            return
        if mode is WrapUpMode.NONE:
            agent.handled += 1
            g.stats.handled(self.now, talk)
            self._change(agent, T_CALL_END_NO_WRAP, call_id=call.id)
            return
        agent.wrap = Wrap(call.id, group, mode, self.now, talk)
        if mode is WrapUpMode.TIMED:
            agent.wrap.timer = self.timers.add(
                self.now + g.cfg.wrap_up.seconds, self._wrap_timeout, agent
            )
        self._change(agent, T_CALL_END, call_id=call.id)
        self._unattended_wrap(agent)

    def _on_hold_changed(self, e: ev.HoldChanged) -> None:
        call = self.call(e.call_id)
        if call.phase is not CONNECTED or call.held == e.held:
            raise WrongState(f"call {call.id} is already {'held' if e.held else 'retrieved'}")
        call.held = e.held
        if e.held:
            call.held_since = self.now
        else:
            call.hold_total += self.now - call.held_since
        self._parties(call, "held" if e.held else "retrieved")

    def _on_external_party(self, e: ev.ExternalPartyChanged) -> None:
        call = self.call(e.call_id)
        if call.phase is not CONNECTED:
            raise WrongState(f"call {call.id} is {call.phase.value}", call_id=call.id)
        if e.joined == (e.party in call.external):
            raise WrongState(f"party {e.party} is already {'on' if e.joined else 'off'} the call")
        if e.joined:
            call.external.append(e.party)
            self._parties(call, "party_joined")
            return
        call.external.remove(e.party)
        if call.agents or call.external:
            self._parties(call, "party_left")
        else:
            self._finish(call, e.party)

    def _on_consult_bridged(self, e: ev.ConsultBridged) -> None:
        call = self.call(e.call_id)
        c = call.consult
        if c is None or c.phase is not CONNECTED:
            raise WrongState(f"call {call.id} has no connected consult", call_id=call.id)
        owner = c.owner
        for b in list(c.agents):
            b.calls.remove(c)
            b.joined[call.id] = b.joined.pop(c.id, self.now)
            b.calls.append(call)
            call.agents.append(b)
            if b.id not in call.served:
                call.served.append(b.id)
        call.external.extend(c.external)
        c.agents, c.external = [], []
        call.consult = None
        c.parent = None
        self._end(c, Cause.ENDED, owner.id if owner else "system")
        if call.held:
            call.hold_total += self.now - call.held_since
            call.held = False
        if not e.conference and owner is not None and owner in call.agents:
            self._leave(call, owner)
        self._parties(call, "conference" if e.conference else "transferred")

    def _on_transferred_out(self, e: ev.TransferredOut) -> None:
        call = self.call(e.call_id)
        if call.transfer is None or call.transfer[0].kind is not TargetKind.EXTERNAL:
            raise WrongState(f"call {call.id} has no external transfer pending")
        by = call.transfer[1].id
        call.transfer = None
        agents = list(call.agents)
        self._end(call, Cause.TRANSFERRED_OUT, by)
        for agent in agents:
            self._leave(call, agent)

    def _on_transfer_failed(self, e: ev.TransferFailed) -> None:
        call = self.call(e.call_id)
        if call.transfer is None:
            raise WrongState(f"call {call.id} has no transfer pending", call_id=call.id)
        call.transfer = None
        self._parties(call, "transfer_failed")

    def _on_intercept(self, e: ev.InterceptCall) -> None:
        call = self.call(e.call_id)
        if call.phase is not CONNECTED or call.kind is CallKind.CONSULT:
            raise WrongState(f"call {call.id} is not a connected call", call_id=call.id)
        call.transfer = None
        self._end_connected(call, e.supervisor, Cause.INTERCEPTED)

    # ------------------------------------------------------------------ callbacks & voicemail

    def _on_callback_chosen(self, e: ev.CallbackChosen) -> None:
        call = self.call(e.call_id)
        parked_choice = call.phase is PARKED and call.parked_for.startswith("callback")
        if not call.caller_present or not (call.phase in WAITING or parked_choice):
            raise WrongState(f"call {call.id} cannot become a callback now", call_id=call.id)
        self._to_callback(call, e.number or call.info.caller, e.at)

    def _to_callback(self, call: Call, number: str, at: float | None) -> None:
        call.kind = CallKind.CALLBACK
        call.caller_present = False
        call.number = number
        call.attempts = 0
        if call.rule_timer is not None:
            cancel_timer(call.rule_timer)
            call.rule_timer = None
        self._emit(ev.ReleaseCaller(self.now, call.id, "callback"))
        if call.phase is ASSIGNED:
            call.assigned_to = None
            call.assigned_by = ""
            call.phase = QUEUED
            self._queue(call)
        due = self.now if at is None or at <= self.now else at
        if due > self.now:
            self._park(call, due, "scheduled")
        elif call.phase is PARKED:
            call.targets = call.targets or {call.group: call.home.cfg.min_level}
            self._unpark(call)
        self._emit(ev.CallbackQueued(self.now, call.id, call.group, call.kind, due, 0, call.number))
        if call.phase is QUEUED:
            self._match_call(call)  # taken from a named agent: any idle agent may serve it now

    def _on_schedule_callback(self, e: ev.ScheduleCallback) -> None:
        if e.call.id in self.calls:
            raise DuplicateCall(f"call {e.call.id} is already live", call_id=e.call.id)
        g = self.group(e.group)
        if not e.number:
            raise WrongState("a callback needs a number")
        base = self.config.priorities.base(e.call.brand, e.call.vip)
        kind = CallKind.VOICEMAIL if e.voicemail else CallKind.CALLBACK
        place = max(e.at, self.now) if e.queued_at is None else e.queued_at
        call = Call(e.call, kind, g, base, place)
        call.number = e.number
        call.voicemail = e.voicemail
        call.attempts = e.attempts
        call.targets = {g.cfg.id: g.cfg.min_level}
        self.calls[call.id] = call
        if e.at > self.now:
            self._park(call, e.at, "scheduled")
        else:
            self._queue(call)
            self._match_call(call)
        self._emit(
            ev.CallbackQueued(
                self.now, call.id, g.cfg.id, call.kind, max(e.at, self.now), e.attempts, e.number
            )
        )

    def _on_dial_result(self, e: ev.DialOutResult) -> None:
        call = self.call(e.call_id)
        if call.phase is not CONNECTING:
            raise WrongState(f"call {call.id} is not dialing", call_id=call.id)
        if call.kind is CallKind.CONSULT and call.agent is None:
            self._consult_dialed(call, e.answered)
            return
        if call.kind not in (CallKind.CALLBACK, CallKind.VOICEMAIL) or call.agent is None:
            raise WrongState(f"call {call.id} is not dialing out", call_id=call.id)
        agent = call.agent
        call.agent = None
        agent.offer = None
        call.attempts += 1
        self._emit(
            ev.CallbackAttempted(
                self.now,
                call.id,
                call.group,
                agent.id,
                call.attempts,
                "connected" if e.answered else e.reason or "no_answer",
            )
        )
        if e.answered:
            self._answered(call, agent)
            return
        self._change(agent, T_WITHDRAW, call_id=call.id)
        self._retry_or_fail(call)

    def _retry_or_fail(self, call: Call) -> None:
        policy = call.home.cfg.callback
        if call.attempts >= policy.max_attempts:
            self._end(call, Cause.CALLBACK_FAILED, "system")
            return
        due = self.now + policy.retry_delay
        self._park(call, due, "retry")
        self._emit(
            ev.CallbackQueued(
                self.now, call.id, call.group, call.kind, due, call.attempts, call.number
            )
        )

    def _consult_dialed(self, c: Call, answered: bool) -> None:
        if not answered:
            self._end(c, Cause.ENDED, "system")
            return
        c.phase = CONNECTED
        c.connected_at = self.now
        c.answered_at = self.now
        c.external.append(c.number)
        parent = c.parent
        if parent is not None:
            self._parties(parent, "consult_connected")
            if c.conference_on_answer:
                self._emit(ev.BridgeConsult(self.now, parent.id, c.id, True))

    def _on_voicemail(self, e: ev.VoicemailRecorded) -> None:
        call = self.call(e.call_id)
        if call.phase is not PARKED or call.parked_for != "voicemail":
            raise WrongState(f"call {call.id} is not recording a voicemail", call_id=call.id)
        call.kind = CallKind.VOICEMAIL
        call.caller_present = False
        call.voicemail = e.ref
        call.number = call.info.caller
        call.targets = call.targets or {call.group: call.home.cfg.min_level}
        self._emit(
            ev.CallbackQueued(self.now, call.id, call.group, call.kind, self.now, 0, call.number)
        )
        self._unpark(call)

    def _on_callback_outcome(self, e: ev.CallbackOutcome) -> None:
        agent, call = self._own_call(e.agent_id, e.call_id)
        if call.kind not in (CallKind.CALLBACK, CallKind.VOICEMAIL):
            raise WrongState(f"call {call.id} is not a callback", call_id=call.id)
        if e.outcome not in ("connected", "no_answer", "cancelled", "reschedule"):
            raise WrongState(f"unknown callback outcome {e.outcome!r}")
        if e.outcome == "reschedule" and (e.at is None or e.at <= self.now):
            raise WrongState("reschedule needs a time in the future")
        call.outcome = (e.outcome, e.at)
        self._emit(
            ev.CallbackAttempted(self.now, call.id, call.group, agent.id, call.attempts, e.outcome)
        )

    # ------------------------------------------------------------------ agents (gateway)

    def _on_login(self, e: ev.AgentLogin) -> None:
        agent = self.agent(e.agent_id)
        transition(agent.state, T_LOGIN)  # validate before changing anything
        agent.endpoint = e.endpoint or agent.cfg.endpoint
        agent.online = True
        self._index(agent)
        self._change(agent, T_LOGIN, "login")

    def _on_logout(self, e: ev.AgentLogout) -> None:
        agent = self._live_agent(e.agent_id)
        if agent.state is WRAP_UP:
            self._close_wrap(agent, e.actor)
        self._change(agent, T_LOGOUT, "logout", e.actor)

    def _on_ready(self, e: ev.AgentReady) -> None:
        agent = self.agents.get(e.agent_id)
        if agent is None or agent.state is LOGGED_OUT:
            agent = self._live_agent(e.agent_id)  # raises the right error
        state = agent.state
        if state is WRAP_UP:
            self._close_wrap(agent, e.actor)
        elif state is NOT_READY and not agent.online and not e.actor:
            raise WrongState("the desktop is not connected", agent_id=agent.id)
        self._change(agent, T_READY, actor=e.actor)

    def _on_not_ready(self, e: ev.AgentNotReady) -> None:
        self._check_reason(e.reason)
        agent = self._live_agent(e.agent_id)
        if agent.state is WRAP_UP:
            self._close_wrap(agent, e.actor)
        self._change(agent, T_NOT_READY, e.reason, e.actor)

    def _on_set_pending(self, e: ev.SetPending) -> None:
        agent = self._live_agent(e.agent_id)
        if agent.state not in WORK:
            raise WrongState("a pending state is only kept while working", agent_id=agent.id)
        if e.state is NOT_READY:
            self._check_reason(e.reason)
        elif e.state not in (None, READY, LOGGED_OUT):
            raise WrongState(f"{e.state} cannot be a pending state")
        agent.pending = e.state
        agent.pending_reason = e.reason if e.state is NOT_READY else ""
        agent.pending_actor = ""
        self._emit(
            _AgentStateChanged(
                self.now,
                agent.id,
                agent.state,
                agent.state,
                agent.reason,
                "",
                agent.pending,
                agent.pending_reason,
            )
        )

    def _offered(self, agent_id: str, call_id: str) -> tuple[Agent, Call]:
        agent = self._live_agent(agent_id)
        if agent.last_call == call_id and (agent.offer is None or agent.offer.id != call_id):
            raise WrongState(f"the offer of {call_id} is no longer ringing", call_id=call_id)
        call = self.call(call_id)
        if agent.offer is not call:
            raise Forbidden(f"call {call_id} is not offered to {agent_id}", call_id=call_id)
        if call.phase is not OFFERED:
            raise WrongState(f"the offer of {call_id} is {call.phase.value}", call_id=call_id)
        return agent, call

    def _on_accept(self, e: ev.AcceptOffer) -> None:
        agent, call = self._offered(e.agent_id, e.call_id)
        if call.timer is not None:
            cancel_timer(call.timer)
            call.timer = None
        call.phase = CONNECTING
        agent.misses = 0
        self._emit(ev.OfferEnded(self.now, call.id, agent.id, call.group, "accepted"))
        if call.kind in (CallKind.CALLBACK, CallKind.VOICEMAIL):
            self._emit(ev.DialOut(self.now, call.id, agent.id, agent.endpoint, call.number))
            return
        announce = ""
        if call.kind is INBOUND and call.home.cfg.announce_agent_number:
            announce = agent.cfg.number
        parent = call.parent
        self._emit(
            ev.ConnectAgent(
                self.now,
                call.id,
                agent.id,
                agent.endpoint,
                announce,
                parent.id if parent is not None else "",
                call.owner.id if call.owner is not None else "",
            )
        )

    def _on_reject(self, e: ev.RejectOffer) -> None:
        agent, call = self._offered(e.agent_id, e.call_id)
        self._emit(ev.OfferEnded(self.now, call.id, agent.id, call.group, "rejected"))
        call.agent = None
        agent.offer = None
        if call.timer is not None:
            cancel_timer(call.timer)
            call.timer = None
        cfg = call.home.cfg
        agent.misses += 1
        if agent.misses >= cfg.max_misses:
            self._change(agent, T_REJECT_LIMIT, "rejected", call_id=call.id)
        else:
            agent.available_at = self.now + cfg.reject_delay
            if cfg.reject_delay > 0:
                agent.cooldown = self.timers.add(agent.available_at, self._cooled, agent)
            self._change(agent, T_REJECT, call_id=call.id)
        self._requeue(call)

    def _cooled(self, agent: Agent) -> None:
        agent.cooldown = None
        self._available(agent)

    def _ring_timeout(self, call: Call) -> None:
        call.timer = None
        agent = call.agent
        if call.phase is not OFFERED or agent is None:
            return
        self._emit(ev.OfferEnded(self.now, call.id, agent.id, call.group, "timeout"))
        call.agent = None
        agent.offer = None
        agent.misses += 1
        self._change(agent, T_RING_TIMEOUT, "no-answer", call_id=call.id)
        self._requeue(call)

    def _on_agent_hangup(self, e: ev.AgentHangup) -> None:
        agent, call = self._own_call(e.agent_id, e.call_id)
        self._emit(ev.DropLeg(self.now, call.id, agent.id, "hangup"))

    def _on_agent_hold(self, e: ev.AgentHold) -> None:
        _agent, call = self._own_call(e.agent_id, e.call_id)
        if call.held == e.held:
            raise WrongState(f"call {call.id} is already {'held' if e.held else 'retrieved'}")
        if call.consult is not None:
            raise WrongState("the caller is held by a consult; complete or cancel it")
        self._emit(ev.HoldCaller(self.now, call.id, e.held))

    def _check_target(self, agent: Agent, target: ev.Target) -> None:
        if target.kind is TargetKind.AGENT:
            b = self.agent(target.value)
            if b is agent:
                raise WrongState("cannot transfer to oneself")
            if b.state is LOGGED_OUT:
                raise NotAvailable(f"agent {b.id} is not signed in", agent_id=b.id)
        elif target.kind is TargetKind.GROUP:
            self.group(target.value)
        elif not target.value:
            raise WrongState("an external target needs a number")

    def _on_blind_transfer(self, e: ev.BlindTransfer) -> None:
        agent, call = self._own_call(e.agent_id, e.call_id)
        if call.kind is CallKind.CONSULT or call.consult is not None or call.transfer:
            raise WrongState(f"call {call.id} cannot be transferred now", call_id=call.id)
        self._check_target(agent, e.target)
        call.transfer = (e.target, agent)
        if e.target.kind is TargetKind.EXTERNAL:
            self._emit(ev.TransferExternal(self.now, call.id, e.target.value))
        else:
            self._emit(ev.DropLeg(self.now, call.id, agent.id, "transfer"))

    def _on_consult_start(self, e: ev.ConsultStart) -> None:
        agent, call = self._own_call(e.agent_id, e.call_id)
        if call.kind is CallKind.CONSULT or call.consult is not None or call.transfer:
            raise WrongState(f"call {call.id} cannot start a consult now", call_id=call.id)
        self._check_target(agent, e.target)
        b: Agent | None = None
        if e.target.kind is TargetKind.AGENT:
            b = self.agents[e.target.value]
            if b.state is not READY or b.offer is not None or b.available_at > self.now:
                raise NotAvailable(f"agent {b.id} is not ready", agent_id=b.id)
        via = self.groups[e.target.value] if e.target.kind is TargetKind.GROUP else call.home
        gid = via.cfg.id
        cid = f"{call.id}#c{next(self._consult_seq)}"
        c = Call(
            msgspec.structs.replace(call.info, id=cid),
            CallKind.CONSULT,
            via,
            self.config.priorities.ceiling,
            self.now,
        )
        c.parent = call
        c.owner = agent
        c.conference_on_answer = e.conference
        self.calls[cid] = c
        call.consult = c
        if not call.held:
            self._emit(ev.HoldCaller(self.now, call.id, True))
        self._parties(call, "consult")
        if b is not None:
            self._offer(c, b, via)
        elif e.target.kind is TargetKind.GROUP:
            g = self.groups[gid]
            c.targets = {gid: g.cfg.min_level}
            self._queue(c)
            self._emit(_CallQueued(self.now, cid, gid, c.kind, c.base, c.queued_at))
            self._match_call(c)
        else:
            c.phase = CONNECTING
            c.number = e.target.value
            self._emit(ev.DialConsult(self.now, call.id, cid, agent.id, e.target.value))

    def _owned_consult(self, agent_id: str, call_id: str) -> tuple[Agent, Call, Call]:
        agent, call = self._own_call(agent_id, call_id)
        c = call.consult
        if c is None or c.owner is not agent:
            raise WrongState(f"no consult of {agent_id} on call {call_id}", call_id=call_id)
        return agent, call, c

    def _on_consult_complete(self, e: ev.ConsultComplete) -> None:
        _, call, c = self._owned_consult(e.agent_id, e.call_id)
        if c.phase is not CONNECTED:
            raise WrongState("the consulted party has not answered yet", call_id=call.id)
        self._emit(ev.BridgeConsult(self.now, call.id, c.id, False))

    def _on_conference_merge(self, e: ev.ConferenceMerge) -> None:
        _, call, c = self._owned_consult(e.agent_id, e.call_id)
        if c.phase is not CONNECTED:
            raise WrongState("the consulted party has not answered yet", call_id=call.id)
        self._emit(ev.BridgeConsult(self.now, call.id, c.id, True))

    def _on_consult_cancel(self, e: ev.ConsultCancel) -> None:
        _, call, c = self._owned_consult(e.agent_id, e.call_id)
        self._drop_consult(c)
        if call.held:
            self._emit(ev.HoldCaller(self.now, call.id, False))

    def _on_conference_drop(self, e: ev.ConferenceDrop) -> None:
        agent, call = self._own_call(e.agent_id, e.call_id)
        if e.party not in call.external and e.party not in {a.id for a in call.agents}:
            raise WrongState(f"{e.party} is not on call {call.id}", call_id=call.id)
        self._emit(ev.DropLeg(self.now, call.id, e.party, f"dropped by {agent.id}"))

    def _on_send_digits(self, e: ev.SendDigits) -> None:
        _, call = self._own_call(e.agent_id, e.call_id)
        if not e.digits or any(ch not in "0123456789*#ABCD" for ch in e.digits):
            raise WrongState("digits must be 0-9, *, #, A-D")
        self._emit(ev.PlayDigits(self.now, call.id, e.digits))

    # wrap-up ------------------------------------------------------------------------

    def _on_wrapup_code(self, e: ev.WrapUpCode) -> None:
        agent = self._live_agent(e.agent_id)
        if agent.state is not WRAP_UP or agent.wrap is None:
            raise WrongState("not in wrap-up", agent_id=agent.id)
        codes = self.config.wrapup_codes
        if codes and e.code not in codes:
            raise UnknownReason(f"unknown wrap-up code {e.code!r}", code=e.code)
        agent.wrap.code = e.code
        if e.finish:
            self._close_wrap(agent, "")
            self._change(agent, T_WRAP_DONE)

    def _on_finish_wrapup(self, e: ev.FinishWrapUp) -> None:
        agent = self._live_agent(e.agent_id)
        if agent.state is not WRAP_UP:
            raise WrongState("not in wrap-up", agent_id=agent.id)
        self._close_wrap(agent, "")
        self._change(agent, T_WRAP_DONE)

    def _close_wrap(self, agent: Agent, actor: str) -> None:
        """Validate and end after-call work (the caller then changes the state)."""
        w = agent.wrap
        if w is None:
            return
        if w.mode is WrapUpMode.MANDATORY and not w.code and not actor:
            raise WrapUpCodeRequired("this group needs a wrap-up code", agent_id=agent.id)
        self._end_wrap(agent)

    def _end_wrap(self, agent: Agent) -> None:
        w = agent.wrap
        assert w is not None
        agent.wrap = None
        if w.timer is not None:
            cancel_timer(w.timer)
        seconds = self.now - w.started
        agent.handled += 1
        g = self.groups.get(w.group)
        if g is not None:
            g.stats.handled(self.now, w.handle + seconds)
        self._emit(ev.WrapUpEnded(self.now, agent.id, w.call_id, w.group, w.code, seconds))

    def _unattended_wrap(self, agent: Agent) -> None:
        """A mandatory wrap-up with a deferred sign-out and no desktop to give its code ends
        at once, without a code, so that the sign-out applies: it would wait for nobody."""
        w = agent.wrap
        if (
            agent.pending is LOGGED_OUT  # rare: checked first, on every call's end
            and not agent.online
            and agent.state is WRAP_UP
            and w is not None
            and w.mode is WrapUpMode.MANDATORY
        ):
            self._end_wrap(agent)
            self._change(agent, T_WRAP_DONE)

    def _wrap_timeout(self, agent: Agent) -> None:
        if agent.state is WRAP_UP and agent.wrap is not None:
            self._end_wrap(agent)
            self._change(agent, T_WRAP_DONE)

    # connection ---------------------------------------------------------------------

    def _on_disconnected(self, e: ev.AgentDisconnected) -> None:
        agent = self._live_agent(e.agent_id)
        agent.online = False
        call = agent.offer
        if agent.state is READY:
            self._change(agent, T_DISCONNECT, "disconnected")
        elif agent.state is RESERVED and call is not None and call.phase is OFFERED:
            self._emit(
                ev.OfferEnded(self.now, call.id, agent.id, call.group, "timeout", "disconnected")
            )
            if call.timer is not None:
                cancel_timer(call.timer)
                call.timer = None
            call.agent = None
            agent.offer = None
            self._change(agent, T_DISCONNECT, "disconnected", call_id=call.id)
            self._requeue(call)
        else:
            self._unattended_wrap(agent)

    def _on_reconnected(self, e: ev.AgentReconnected) -> None:
        agent = self._live_agent(e.agent_id)
        agent.online = True
        if e.endpoint:
            # A call already connected stays on its leg; the next connect rings the new desk.
            agent.endpoint = e.endpoint

    # ------------------------------------------------------------------ supervisors

    def _waiting(self, call_id: str) -> Call:
        call = self.call(call_id)
        if call.phase not in WAITING or call.kind is CallKind.CONSULT:
            raise WrongState(f"call {call_id} is not waiting", call_id=call_id)
        return call

    def _takeable(self, call_id: str) -> Call:
        """A call a supervisor may send elsewhere: waiting, or ringing at a desktop."""
        call = self.call(call_id)
        if call.phase is OFFERED and call.kind is not CallKind.CONSULT:
            return call
        return self._waiting(call_id)

    def _recall(self, call: Call) -> Agent | None:
        """Take a ringing offer back for a supervisor: the call is at its place again, not
        matched (the supervisor's action decides where it goes). Returns the agent it rang,
        to be freed by `_recalled` once the action is done (not before: as the longest idle
        it could be offered the same call again). None when the call was not ringing."""
        agent = call.agent
        if call.phase is not OFFERED or agent is None:
            return None
        self._withdraw(call, agent, "supervisor")
        call.assigned_to = None  # an assignment ends with its offer, as on a reject
        call.assigned_by = ""
        self._queue(call)
        self._emit(
            _CallQueued(self.now, call.id, call.group, call.kind, call.base, call.queued_at, True)
        )
        return agent

    def _recalled(self, agent: Agent | None, call: Call) -> None:
        """The agent a recalled offer rang goes back to ready (or its pending state)."""
        if agent is not None:
            self._change(agent, T_WITHDRAW, call_id=call.id)

    def _on_assign(self, e: ev.AssignCall) -> None:
        call = self._takeable(e.call_id)
        agent = self._live_agent(e.agent_id)
        if call.agent is agent:
            raise WrongState(f"call {call.id} is ringing at {agent.id} already", call_id=call.id)
        rang = self._recall(call)
        self._assign(call, agent, e.actor)
        self._recalled(rang, call)

    def _assign(self, call: Call, agent: Agent, actor: str) -> None:
        if call.assigned_to is not None and call.assigned_to is not agent:
            call.assigned_to.assigned = type(call.assigned_to.assigned)(
                c for c in call.assigned_to.assigned if c is not call
            )
        self._unqueue(call)
        call.phase = ASSIGNED
        call.assigned_to = agent
        call.assigned_by = actor
        agent.assigned.append(call)
        self._emit(ev.CallAssigned(self.now, call.id, call.group, agent.id, actor))
        self._available(agent)

    def _on_set_priority(self, e: ev.SetCallPriority) -> None:
        call = self._waiting(e.call_id)
        pr = self.config.priorities
        call.base = min(pr.ceiling, max(pr.floor, e.priority))
        if call.phase is QUEUED:
            self._unqueue(call)
            self._queue(call)
        self._emit(ev.CallPriorityChanged(self.now, call.id, call.group, call.base, e.actor))

    def _on_move(self, e: ev.MoveCall) -> None:
        call = self._takeable(e.call_id)
        to = self.group(e.group)
        if to.cfg.id == call.group and call.phase is not ASSIGNED:
            raise WrongState(f"call {call.id} is already in {e.group}")
        rang = self._recall(call)
        if call.assigned_to is not None:
            self._unassign(call)
        self._move(call, to, "supervisor", e.actor)
        self._recalled(rang, call)

    def _unassign(self, call: Call) -> None:
        agent = call.assigned_to
        if agent is not None:
            agent.assigned = type(agent.assigned)(c for c in agent.assigned if c is not call)
        call.assigned_to = None
        call.assigned_by = ""
        self._queue(call)

    def _on_withdraw(self, e: ev.WithdrawCall) -> None:
        call = self._takeable(e.call_id)
        if e.to not in ("voicemail", "callback"):
            raise WrongState(f"withdraw to {e.to!r}: use voicemail or callback")
        if not call.caller_present:
            raise WrongState(f"call {call.id} has no caller on the line", call_id=call.id)
        rang = self._recall(call)
        if call.assigned_to is not None:
            self._unassign(call)
        if e.to == "callback":
            self._to_callback(call, call.info.caller, None)
        else:
            self._to_voicemail(call, "supervisor", e.actor)
        self._recalled(rang, call)

    def _on_voicemail_chosen(self, e: ev.VoicemailChosen) -> None:
        call = self._waiting(e.call_id)
        if not call.caller_present:
            raise WrongState(f"call {call.id} has no caller on the line", call_id=call.id)
        if call.assigned_to is not None:
            self._unassign(call)
        self._to_voicemail(call, "caller", "")

    def _to_voicemail(self, call: Call, rule: str, actor: str) -> None:
        """A waiting caller leaves the queue to record a message (keeping the place)."""
        self._emit(
            ev.CallOverflowed(self.now, call.id, call.group, call.group, "voicemail", rule, actor)
        )
        self._park(call, None, "voicemail")
        self._emit(ev.RecordVoicemail(self.now, call.id, call.group))

    def _on_set_skills(self, e: ev.SetAgentSkills) -> None:
        agent = self.agent(e.agent_id)
        if e.skills is not None:
            for skill, level in e.skills.items():
                if not isinstance(level, int) or not 0 <= level <= 10:
                    raise WrongState(f"skill {skill}: level must be 0..10", skill=skill)
        if e.groups is not None:
            for gid in e.groups:
                self.group(gid)
        idle = agent.state is READY and agent.offer is None
        self._leave_idle(agent)
        self._count(agent, -1)
        if e.skills is not None:
            agent.skills = {k: v for k, v in e.skills.items() if v > 0}
        if e.groups is not None:
            agent.order = tuple(e.groups)
        self._index(agent)
        self._count(agent, +1)
        self._emit(
            ev.AgentSkillsChanged(self.now, agent.id, dict(agent.skills), agent.order, e.actor)
        )
        if idle:
            self._available(agent)

    def _on_pause(self, e: ev.PauseGroup) -> None:
        g = self.group(e.group)
        if g.paused == e.paused:
            raise WrongState(f"group {e.group} is already {'paused' if e.paused else 'running'}")
        g.paused = e.paused
        self._emit(ev.GroupPaused(self.now, g.cfg.id, e.paused, e.actor))

    def _on_reload(self, e: ev.Reload) -> None:
        new = e.config
        self.config = new
        self._closed_cache.clear()
        self._bases.clear()
        floors = _floors(new)
        for gid, cfg in new.groups.items():
            g = self.groups.get(gid)
            if g is None:
                self.groups[gid] = self._new_group(cfg, floors[gid])
                continue
            g.cfg = cfg
            g.ring_lane = self.timers.lane(cfg.ring_timeout)
            g.floor = floors[gid]
            g.state_rules = any(not r.when.time_only() for r in cfg.overflow)
            g.stats.threshold = cfg.target.seconds
            self._rebuild_queue(g)  # ageing may have changed; reloads are rare
        homes = {id(c.home) for c in self.calls.values()}
        for gid, g in list(self.groups.items()):
            g.retired = gid not in new.groups
            if g.retired and not g.queue.count and id(g) not in homes:
                del self.groups[gid]  # retired, and no live call will come back to it
        for acfg in new.agents.values():
            if acfg.id not in self.agents:
                self.agents[acfg.id] = Agent(acfg)
        # Re-index every agent against the new groups and skills.
        for g in self.groups.values():
            g.pools = {}
            for state in g.raw_counts:  # in place: agents hold these dicts (Agent.tallies)
                g.raw_counts[state] = 0
        self._tally.forget()
        for agent in list(self.agents.values()):
            agent.pools = ()
            fresh = new.agents.get(agent.id)
            if fresh is None:
                if agent.state is LOGGED_OUT:
                    del self.agents[agent.id]
                    continue
            else:
                agent.cfg = fresh
                agent.skills = dict(fresh.skills)
                agent.order = fresh.groups
                agent.attrs = fresh.attributes
            if agent.state is not LOGGED_OUT:
                self._index(agent)
                self._count(agent, +1)
        self._emit(ev.ConfigApplied(self.now, new.version, e.actor))
        for agent in list(self.agents.values()):
            self._available(agent)
        for g in list(self.groups.values()):
            for call in list(g.home.values()):
                self._match_call(call)

    def _rebuild_queue(self, g: Group) -> None:
        """Re-file the group's entries under its (possibly new) ageing rule."""
        entries = list(g.queue.entries())
        g.queue = self._new_queue(g.cfg)
        for old in entries:
            call = old.call
            assert isinstance(call, Call)
            e = Entry(call, g.cfg.id, call.base, call.queued_at, old.level)
            g.queue.push(e, self._match_key(call, g.cfg), self.now)
            call.entries[g.cfg.id] = e


def replay(engine: Engine, items: Iterable[tuple[float, ev.Event]]) -> list[Output]:
    """Feed (time, event) pairs in order; refused events are skipped. For tests and tools."""
    out: list[Output] = []
    for t, event in items:
        try:
            out.extend(engine.handle(event, t))
        except AcdError as err:
            out.extend(err.outputs)
    return out
