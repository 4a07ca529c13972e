"""Engine outputs to journal records: call detail records, agent state intervals, offers and
handled calls. Pure (no I/O, no clock): the journal feeds it each batch and stores what it
returns.

A call's record is assembled while the call lives (segments, offers, answers, overflows,
transfers...) and returned whole with its `CallEnded`. An agent's state interval is returned
when the agent leaves the state. A handled call is returned when its after-call work ends
(or when the agent leaves the call, for groups without wrap-up).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from acd import events as ev
from acd.states import AgentState
from acd.store.records import (
    AgentStateRecord,
    CallRecord,
    ConfigRecord,
    HandledRecord,
    OfferRecord,
    Record,
)

_S = AgentState
_LOGGED_OUT = AgentState.LOGGED_OUT
_ON_CALL = AgentState.ON_CALL
_WRAP_UP = AgentState.WRAP_UP
# An enum's `.value` is a property (about half a microsecond): values are looked up instead.
_STATE_VALUE = {s: s.value for s in AgentState}
_KIND_VALUE = {k: k.value for k in ev.CallKind}
_CAUSE_VALUE = {c: c.value for c in ev.EndCause}


class _Open:
    """What is known of a live call."""

    __slots__ = ("conference", "detail", "offers", "transfers")

    def __init__(self) -> None:
        self.detail: dict[str, list[dict[str, Any]]] = {}
        self.offers: dict[str, float] = {}  # agent -> offered at
        self.transfers = 0
        self.conference = False

    def add(self, key: str, item: dict[str, Any]) -> None:
        self.detail.setdefault(key, []).append(item)


class Recorder:
    """Assembles records from engine outputs; one per journal."""

    def __init__(self) -> None:
        self.calls: dict[str, _Open] = {}
        # agent -> (state, reason, since, actor, call id)
        self.states: dict[str, tuple[AgentState, str, float, str, str]] = {}
        self.on_call_since: dict[str, float] = {}
        self.talk: dict[str, float] = {}  # agent -> talk of the call whose wrap-up runs
        self.last_group: dict[str, str] = {}  # agent -> group of its latest answered call
        # output type -> what it adds (one dictionary look-up per output, not a chain of tests)
        self._handlers: dict[type, Callable[[Any, list[Record]], None]] = {
            ev.AgentStateChanged: self._state,
            ev.CallQueued: self._queued,
            ev.CallOffered: self._offered,
            ev.OfferEnded: self._offer_ended,
            ev.CallAnswered: self._answered,
            ev.CallEnded: self._call_ended,
            ev.WrapUpEnded: self._wrap_ended,
            ev.CallAbandoned: self._abandoned,
            ev.CallBlocked: self._blocked,
            ev.CallOverflowed: self._overflowed,
            ev.CallbackQueued: self._callback_queued,
            ev.CallbackAttempted: self._callback_attempted,
            ev.CallPartiesChanged: self._parties,
            ev.CallAssigned: self._assigned,
        }

    def _call(self, call_id: str) -> _Open:
        c = self.calls.get(call_id)
        if c is None:
            c = self.calls[call_id] = _Open()
        return c

    def feed(self, outputs: Sequence[ev.Output]) -> list[Record]:
        """The records these outputs complete."""
        out: list[Record] = []
        handlers = self._handlers
        for o in outputs:
            h = handlers.get(type(o))
            if h is not None:
                h(o, out)
        return out

    def _queued(self, o: ev.CallQueued, _out: list[Record]) -> None:
        if not o.requeued:
            how = "restored" if getattr(o, "restored", False) else "queued"
            self._call(o.call_id).add("segments", {"at": o.at, "group": o.group, "how": how})

    def _offered(self, o: ev.CallOffered, _out: list[Record]) -> None:
        self._call(o.call_id).offers[o.agent_id] = o.at

    def _offer_ended(self, o: ev.OfferEnded, out: list[Record]) -> None:
        c = self._call(o.call_id)
        since = c.offers.pop(o.agent_id, o.at)
        c.add(
            "offers",
            {"at": since, "agent": o.agent_id, "group": o.group, "result": o.result,
             "ended_at": o.at, "reason": o.reason},
        )  # fmt: skip
        out.append(OfferRecord(o.call_id, o.agent_id, o.group, since, o.at, o.result, o.reason))

    def _answered(self, o: ev.CallAnswered, _out: list[Record]) -> None:
        self.last_group[o.agent_id] = o.group
        self._call(o.call_id).add(
            "answers",
            {"at": o.at, "group": o.group, "agent": o.agent_id, "wait": o.wait,
             "kind": _KIND_VALUE[o.kind]},
        )  # fmt: skip

    def _abandoned(self, o: ev.CallAbandoned, _out: list[Record]) -> None:
        self._call(o.call_id).add(
            "abandon", {"at": o.at, "group": o.group, "wait": o.wait, "ringing": o.ringing}
        )

    def _blocked(self, o: ev.CallBlocked, _out: list[Record]) -> None:
        self._call(o.call_id).add("blocked", {"at": o.at, "group": o.group, "reason": o.reason})

    def _overflowed(self, o: ev.CallOverflowed, _out: list[Record]) -> None:
        self._call(o.call_id).add(
            "overflows",
            {"at": o.at, "from": o.from_group, "to": o.to_group, "action": o.action,
             "rule": o.rule, "actor": o.actor},
        )  # fmt: skip

    def _callback_queued(self, o: ev.CallbackQueued, _out: list[Record]) -> None:
        self._call(o.call_id).add(
            "callbacks",
            {"at": o.at, "event": "queued", "group": o.group, "kind": o.kind.value,
             "due_at": o.due_at, "attempt": o.attempt},
        )  # fmt: skip

    def _callback_attempted(self, o: ev.CallbackAttempted, _out: list[Record]) -> None:
        self._call(o.call_id).add(
            "callbacks",
            {"at": o.at, "event": "attempted", "group": o.group, "agent": o.agent_id,
             "attempt": o.attempt, "outcome": o.outcome},
        )  # fmt: skip

    def _parties(self, o: ev.CallPartiesChanged, _out: list[Record]) -> None:
        c = self._call(o.call_id)
        if o.event == "transferred":
            c.transfers += 1
        elif o.event == "conference":
            c.conference = True
        c.add(
            "parties",
            {"at": o.at, "event": o.event, "agents": list(o.agents),
             "external": list(o.external), "held": o.held},
        )  # fmt: skip

    def _assigned(self, o: ev.CallAssigned, _out: list[Record]) -> None:
        self._call(o.call_id).add("assigned", {"at": o.at, "agent": o.agent_id, "actor": o.actor})

    def _call_ended(self, o: ev.CallEnded, out: list[Record]) -> None:
        out.append(self._ended(o))

    def _wrap_ended(self, o: ev.WrapUpEnded, out: list[Record]) -> None:
        talk = self.talk.pop(o.agent_id, 0.0)
        out.append(HandledRecord(o.agent_id, o.call_id, o.group, o.at, talk, o.seconds, o.code))

    def _ended(self, o: ev.CallEnded) -> CallRecord:
        c = self.calls.pop(o.call_id, None) or _Open()
        info = o.info
        answers = c.detail.get("answers", [])
        wait = answers[0]["wait"] if answers else None
        return CallRecord(
            call_id=o.call_id,
            kind=_KIND_VALUE[o.kind],
            group=o.group,
            groups=list(o.groups),
            cause=_CAUSE_VALUE[o.cause],
            ended_by=o.by,
            ended_at=o.at,
            queued_at=o.queued_at,
            answered_at=o.answered_at,
            wait=wait,
            talk=max(0.0, o.talk - o.hold),
            hold=o.hold,
            agents=list(o.agents),
            caller=info.caller if info is not None else "",
            dialed=info.dialed if info is not None else "",
            brand=info.brand if info is not None else "",
            vip=info.vip if info is not None else 0,
            trunk=info.trunk if info is not None else "",
            ivr_path=list(info.ivr_path) if info is not None else [],
            number=o.number,
            voicemail=o.voicemail,
            attempts=o.attempts,
            transfers=c.transfers,
            conference=c.conference,
            detail=c.detail,
        )

    def _state(self, o: ev.AgentStateChanged, out: list[Record]) -> None:
        aid, old, new, at = o.agent_id, o.old, o.new, o.at
        states = self.states
        prev = states.get(aid)
        if old is new and (prev is None or o.reason == prev[1]):
            return  # only the pending state changed
        if prev is not None:
            state, reason, since, actor, call_id = prev
            out.append(
                AgentStateRecord(aid, _STATE_VALUE[state], reason, since, at, actor, call_id)
            )
        if new is not _LOGGED_OUT:
            states[aid] = (new, o.reason, at, o.actor, o.call_id)
        elif prev is not None:
            del states[aid]
        if new is _ON_CALL:
            if old is not _ON_CALL:
                self.on_call_since[aid] = at
        elif old is _ON_CALL:
            since = self.on_call_since.pop(aid, at)
            talk = at - since
            if new is _WRAP_UP:
                self.talk[aid] = talk
            else:  # no after-call work: handling ends now
                group = self.last_group.get(aid, "")
                out.append(HandledRecord(aid, o.call_id, group, at, talk, 0.0))

    def close_states(self, at: float) -> list[Record]:
        """Close every open state interval at `at` (an orderly stop)."""
        out: list[Record] = [
            AgentStateRecord(aid, s.value, reason, since, at, actor, call_id)
            for aid, (s, reason, since, actor, call_id) in self.states.items()
        ]
        self.states.clear()
        return out


def snapshot(cfg: Any) -> dict[str, Any]:
    """What reports need of a configuration (a `CenterConfig`), as plain data."""
    groups = {
        g.id: {"name": g.name, "target_ratio": g.target.ratio, "target_seconds": g.target.seconds}
        for g in cfg.groups.values()
    }
    members = {
        g.id: sorted(a.id for a in cfg.agents.values() if a.skills.get(g.skill, 0) >= g.min_level)
        for g in cfg.groups.values()
    }
    tz = cfg.timezone
    return {
        "timezone": getattr(tz, "key", None) or str(tz),
        "sl_threshold": cfg.sl_threshold,
        "interval_minutes": cfg.interval_minutes,
        "groups": groups,
        "members": members,
    }


def config_record(cfg: Any, at: float, actor: str) -> ConfigRecord:
    """The record of a configuration version taking effect."""
    return ConfigRecord(at, cfg.version, actor, snapshot(cfg))
