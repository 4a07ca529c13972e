"""Engine outputs to journal records: call detail records, agent state intervals, offers and
handled calls. Pure (no I/O, no clock): the journal feeds it each batch and stores what it
returns.

A call's record is assembled while the call lives (segments, offers, answers, overflows,
transfers...) and returned whole with its `CallEnded`. An agent's state interval is returned
when the agent leaves the state. A handled call is returned when its after-call work ends
(or when the agent leaves the call, for groups without wrap-up).
"""

from __future__ import annotations

from collections.abc import Sequence
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

    def _call(self, call_id: str) -> _Open:
        c = self.calls.get(call_id)
        if c is None:
            c = self.calls[call_id] = _Open()
        return c

    def feed(self, outputs: Sequence[ev.Output]) -> list[Record]:
        """The records these outputs complete."""
        out: list[Record] = []
        for o in outputs:
            t = type(o)
            if t is ev.AgentStateChanged:
                self._state(o, out)  # type: ignore[arg-type]
            elif t is ev.CallQueued:
                assert isinstance(o, ev.CallQueued)
                if not o.requeued:
                    how = "restored" if getattr(o, "restored", False) else "queued"
                    self._call(o.call_id).add(
                        "segments", {"at": o.at, "group": o.group, "how": how}
                    )
            elif t is ev.CallOffered:
                assert isinstance(o, ev.CallOffered)
                self._call(o.call_id).offers[o.agent_id] = o.at
            elif t is ev.OfferEnded:
                assert isinstance(o, ev.OfferEnded)
                c = self._call(o.call_id)
                since = c.offers.pop(o.agent_id, o.at)
                c.add(
                    "offers",
                    {"at": since, "agent": o.agent_id, "group": o.group, "result": o.result,
                     "ended_at": o.at, "reason": o.reason},
                )  # fmt: skip
                out.append(
                    OfferRecord(o.call_id, o.agent_id, o.group, since, o.at, o.result, o.reason)
                )
            elif t is ev.CallAnswered:
                assert isinstance(o, ev.CallAnswered)
                self.last_group[o.agent_id] = o.group
                self._call(o.call_id).add(
                    "answers",
                    {"at": o.at, "group": o.group, "agent": o.agent_id, "wait": o.wait,
                     "kind": o.kind.value},
                )  # fmt: skip
            elif t is ev.CallAbandoned:
                assert isinstance(o, ev.CallAbandoned)
                self._call(o.call_id).add(
                    "abandon", {"at": o.at, "group": o.group, "wait": o.wait, "ringing": o.ringing}
                )
            elif t is ev.CallBlocked:
                assert isinstance(o, ev.CallBlocked)
                self._call(o.call_id).add(
                    "blocked", {"at": o.at, "group": o.group, "reason": o.reason}
                )
            elif t is ev.CallOverflowed:
                assert isinstance(o, ev.CallOverflowed)
                self._call(o.call_id).add(
                    "overflows",
                    {"at": o.at, "from": o.from_group, "to": o.to_group, "action": o.action,
                     "rule": o.rule, "actor": o.actor},
                )  # fmt: skip
            elif t is ev.CallbackQueued:
                assert isinstance(o, ev.CallbackQueued)
                self._call(o.call_id).add(
                    "callbacks",
                    {"at": o.at, "event": "queued", "group": o.group, "kind": o.kind.value,
                     "due_at": o.due_at, "attempt": o.attempt},
                )  # fmt: skip
            elif t is ev.CallbackAttempted:
                assert isinstance(o, ev.CallbackAttempted)
                self._call(o.call_id).add(
                    "callbacks",
                    {"at": o.at, "event": "attempted", "group": o.group, "agent": o.agent_id,
                     "attempt": o.attempt, "outcome": o.outcome},
                )  # fmt: skip
            elif t is ev.CallPartiesChanged:
                assert isinstance(o, ev.CallPartiesChanged)
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
            elif t is ev.CallAssigned:
                assert isinstance(o, ev.CallAssigned)
                self._call(o.call_id).add(
                    "assigned", {"at": o.at, "agent": o.agent_id, "actor": o.actor}
                )
            elif t is ev.CallEnded:
                assert isinstance(o, ev.CallEnded)
                out.append(self._ended(o))
            elif t is ev.WrapUpEnded:
                assert isinstance(o, ev.WrapUpEnded)
                talk = self.talk.pop(o.agent_id, 0.0)
                out.append(
                    HandledRecord(o.agent_id, o.call_id, o.group, o.at, talk, o.seconds, o.code)
                )
        return out

    def _ended(self, o: ev.CallEnded) -> CallRecord:
        c = self.calls.pop(o.call_id, None) or _Open()
        info = o.info
        answers = c.detail.get("answers", [])
        wait = answers[0]["wait"] if answers else None
        return CallRecord(
            call_id=o.call_id,
            kind=o.kind.value,
            group=o.group,
            groups=list(o.groups),
            cause=o.cause.value,
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
        if o.old is o.new and o.reason == self.states.get(o.agent_id, (o.old, o.reason))[1]:
            return  # only the pending state changed
        prev = self.states.pop(o.agent_id, None)
        if prev is not None:
            state, reason, since, actor, call_id = prev
            out.append(
                AgentStateRecord(o.agent_id, state.value, reason, since, o.at, actor, call_id)
            )
        if o.new is not _S.LOGGED_OUT:
            self.states[o.agent_id] = (o.new, o.reason, o.at, o.actor, o.call_id)
        if o.new is _S.ON_CALL and o.old is not _S.ON_CALL:
            self.on_call_since[o.agent_id] = o.at
        elif o.old is _S.ON_CALL and o.new is not _S.ON_CALL:
            since = self.on_call_since.pop(o.agent_id, o.at)
            talk = o.at - since
            if o.new is _S.WRAP_UP:
                self.talk[o.agent_id] = talk
            else:  # no after-call work: handling ends now
                group = self.last_group.get(o.agent_id, "")
                out.append(HandledRecord(o.agent_id, o.call_id, group, o.at, talk, 0.0))

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
