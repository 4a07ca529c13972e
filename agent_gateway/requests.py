"""Agent requests become core events, always on behalf of the session's own agent.

The rule "an agent acts only on itself and its own calls": a request never names its actor
(the session does); a request that names another agent in `agent_id` is `forbidden`, and the
core refuses any call the agent is not on or offered (`forbidden` as well). Either way nothing
changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acd import events as ev
from acd.errors import Forbidden
from acd.states import AgentState
from agent_gateway import messages as m

Builder = Callable[[str, Any], ev.Event]


def _target(t: m.Target) -> ev.Target:
    return ev.Target(ev.TargetKind(t.kind), t.value)


def _self_only(agent_id: str, msg: Any) -> None:
    named = getattr(msg, "agent_id", None)
    if named is not None and named != agent_id:
        raise Forbidden(f"agent {agent_id} may not act on agent {named}", agent_id=named)


def _pending(a: str, r: m.SetPending) -> ev.Event:
    state = AgentState(r.state) if r.state is not None else None
    return ev.SetPending(a, state, r.reason)


def _conference_add(a: str, r: m.ConferenceAdd) -> ev.Event:
    if r.target is None:
        return ev.ConferenceMerge(a, r.call_id)
    return ev.ConsultStart(a, r.call_id, _target(r.target), conference=True)


BUILDERS: dict[type, Builder] = {
    m.SignOut: lambda a, r: ev.AgentLogout(a),
    m.Ready: lambda a, r: ev.AgentReady(a),
    m.NotReady: lambda a, r: ev.AgentNotReady(a, r.reason),
    m.SetPending: _pending,
    m.Accept: lambda a, r: ev.AcceptOffer(a, r.call_id),
    m.Reject: lambda a, r: ev.RejectOffer(a, r.call_id),
    m.Hangup: lambda a, r: ev.AgentHangup(a, r.call_id),
    m.Hold: lambda a, r: ev.AgentHold(a, r.call_id, True),
    m.Retrieve: lambda a, r: ev.AgentHold(a, r.call_id, False),
    m.Transfer: lambda a, r: ev.BlindTransfer(a, r.call_id, _target(r.target)),
    m.ConsultStart: lambda a, r: ev.ConsultStart(a, r.call_id, _target(r.target)),
    m.ConsultComplete: lambda a, r: ev.ConsultComplete(a, r.call_id),
    m.ConsultCancel: lambda a, r: ev.ConsultCancel(a, r.call_id),
    m.ConferenceAdd: _conference_add,
    m.ConferenceDrop: lambda a, r: ev.ConferenceDrop(a, r.call_id, r.party),
    m.Digits: lambda a, r: ev.SendDigits(a, r.call_id, r.digits),
    m.WrapUpCode: lambda a, r: ev.WrapUpCode(a, r.code, r.finish),
    m.FinishWrapUp: lambda a, r: ev.FinishWrapUp(a),
    m.CallbackOutcome: lambda a, r: ev.CallbackOutcome(a, r.call_id, r.outcome, r.at),
}


def to_event(agent_id: str, msg: Any) -> ev.Event | None:
    """The core event for a request of `agent_id`; None for requests the gateway answers
    itself (hello, sign-in, resume, snapshot). Forbidden when it names another agent."""
    build = BUILDERS.get(type(msg))
    if build is None:
        return None
    _self_only(agent_id, msg)
    return build(agent_id, msg)
