"""Agent-side behaviour: no answer, reject, wrap-up modes, pending states, disconnects."""

from __future__ import annotations

import pytest
from core_harness import Core, agent, center, group

from acd import events as ev
from acd.errors import Forbidden, IllegalTransition, UnknownReason, WrapUpCodeRequired, WrongState
from acd.model import WrapUp, WrapUpMode
from acd.states import AgentState as S


def two_agents(**gkw: object) -> Core:
    return Core(center([group("g", **gkw)], [agent("a1", {"g": 5}), agent("a2", {"g": 5})]))


def test_ring_timeout_requeues_the_call_in_place_and_sets_no_answer() -> None:
    core = two_agents(ring_timeout=15.0)
    core.login_ready("a1")
    core.at(1).call("c1", "g")
    core.at(2).call("c2", "g")
    assert core.offered_to("c1") == "a1"
    core.login_ready("a2")  # a2 takes c2 ... no: c2 waits behind c1's ring; a2 takes c2
    assert core.offered_to("c2") == "a2"
    core.tick(16)
    assert core.state("a1") == "not_ready"
    assert core.engine.agents["a1"].reason == "no-answer"
    ended = core.last(ev.OfferEnded)
    assert (ended.call_id, ended.result, ended.at) == ("c1", "timeout", 16.0)
    call = core.engine.calls["c1"]
    assert call.phase.value == "queued" and call.queued_at == 1.0
    core(ev.AgentReady("a1"))
    assert core.offered_to("c1") == "a1"


def test_reject_applies_the_reject_delay_then_offers_again() -> None:
    core = two_agents(reject_delay=5.0, max_misses=3)
    core.login_ready("a1")
    core.at(1).call("c1", "g")
    core(ev.RejectOffer("a1", "c1"))
    assert core.state("a1") == "ready"
    assert core.offered_to("c1") is None  # a1 cools down, nobody else
    core.tick(5.9)
    assert core.offered_to("c1") is None
    core.tick(6.0)
    assert core.offered_to("c1") == "a1"


def test_consecutive_rejects_set_the_agent_not_ready() -> None:
    core = two_agents(reject_delay=0.0, max_misses=2)
    core.login_ready("a1")
    core.call("c1", "g")
    core(ev.RejectOffer("a1", "c1"))
    assert core.offered_to("c1") == "a1"  # no delay: offered again
    core(ev.RejectOffer("a1", "c1"))
    assert core.state("a1") == "not_ready"
    assert core.engine.agents["a1"].reason == "rejected"
    assert core.offered_to("c1") is None


def test_caller_hanging_up_while_ringing_withdraws_the_offer() -> None:
    core = two_agents()
    core.login_ready("a1")
    core.at(1).call("c1", "g")
    core(ev.CallerHangup("c1"), 3)
    assert core.state("a1") == "ready"
    assert core.last(ev.OfferEnded).result == "withdrawn"
    ab = core.last(ev.CallAbandoned)
    assert ab.ringing and ab.wait == 3.0
    assert core.last(ev.CallEnded).cause is ev.EndCause.ABANDONED
    assert "c1" not in core.engine.calls


def test_wrap_up_none_returns_to_ready_at_once() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.NONE, 0))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.AgentLegEnded("c1", "a1"), 60)
    assert core.state("a1") == "ready"


def test_timed_wrap_up_ends_by_itself_or_early() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.TIMED, 30))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.CallerHangup("c1"), 60)
    assert core.state("a1") == "wrap_up"
    core.tick(89)
    assert core.state("a1") == "wrap_up"
    core.tick(90)
    assert core.state("a1") == "ready"
    assert core.last(ev.WrapUpEnded).seconds == 30
    # finishing early
    core.call("c2", "g")
    core.answer("a1", "c2")
    core(ev.CallerHangup("c2"), 10)
    core(ev.FinishWrapUp("a1"), 2)
    assert core.state("a1") == "ready"
    assert core.last(ev.WrapUpEnded).seconds == 2


def test_mandatory_wrap_up_needs_a_code() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.MANDATORY, 0))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.CallerHangup("c1"), 60)
    core.tick(10_000)
    assert core.state("a1") == "wrap_up"
    with pytest.raises(WrapUpCodeRequired):
        core(ev.FinishWrapUp("a1"))
    with pytest.raises(WrapUpCodeRequired):
        core(ev.AgentReady("a1"))
    assert core.state("a1") == "wrap_up"
    core(ev.WrapUpCode("a1", "billing", finish=True))
    assert core.state("a1") == "ready"
    assert core.last(ev.WrapUpEnded).code == "billing"


def test_a_deferred_sign_out_without_a_desktop_does_not_wait_for_a_wrap_up_code() -> None:
    # the desktop is lost during the call, with a sign-out deferred until the call ends
    core = two_agents(wrap_up=WrapUp(WrapUpMode.MANDATORY, 0))
    core.login_ready("a1", "a2")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.AgentLogout("a1", actor="sup"))
    core(ev.AgentDisconnected("a1"))
    assert core.state("a1") == "on_call"
    core(ev.CallerHangup("c1"), 60)
    assert core.state("a1") == "logged_out"  # no code: nobody was left to give one
    ended = core.last(ev.WrapUpEnded)
    assert (ended.agent_id, ended.code, ended.seconds) == ("a1", "", 0.0)
    # the desktop is lost during the wrap-up instead: the sign-out applies then
    core.call("c2", "g")
    core.answer("a2", "c2")
    core(ev.AgentLogout("a2"))
    core(ev.CallerHangup("c2"), 90)
    assert core.state("a2") == "wrap_up"  # the desktop is there to give the code
    core(ev.AgentDisconnected("a2"))
    assert core.state("a2") == "logged_out"


def test_pending_not_ready_applies_after_the_call() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.TIMED, 10))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.AgentNotReady("a1", "lunch"))
    a = core.engine.agents["a1"]
    assert a.state is S.ON_CALL and a.pending is S.NOT_READY
    core(ev.CallerHangup("c1"), 30)
    core.tick(41)
    assert a.state is S.NOT_READY and a.reason == "lunch" and a.pending is None


def test_logout_during_a_call_is_deferred() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.NONE, 0))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.AgentLogout("a1", actor="sup1"))
    assert core.state("a1") == "on_call"
    change = core.last(ev.AgentStateChanged)
    assert change.pending is S.LOGGED_OUT and change.actor == "sup1"
    core(ev.CallerHangup("c1"), 5)
    assert core.state("a1") == "logged_out"
    assert core.last(ev.AgentStateChanged).actor == "sup1"


def test_set_pending_can_be_cleared() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.NONE, 0))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.SetPending("a1", S.NOT_READY, "break"))
    core(ev.SetPending("a1", None))
    core(ev.CallerHangup("c1"), 5)
    assert core.state("a1") == "ready"


def test_disconnect_while_ready_goes_not_ready_and_while_ringing_requeues() -> None:
    core = two_agents()
    core.login_ready("a1", "a2")
    core(ev.AgentDisconnected("a2"))
    assert core.engine.agents["a2"].reason == "disconnected"
    core.call("c1", "g")
    assert core.offered_to("c1") == "a1"
    core(ev.AgentDisconnected("a1"))
    assert core.state("a1") == "not_ready"
    assert core.engine.calls["c1"].phase.value == "queued"
    with pytest.raises(WrongState):
        core(ev.AgentReady("a1"))  # no desktop: cannot be ready
    core(ev.AgentReconnected("a1"))
    core(ev.AgentReady("a1"))
    assert core.offered_to("c1") == "a1"


def test_disconnect_on_call_keeps_the_call_and_ends_not_ready() -> None:
    core = two_agents(wrap_up=WrapUp(WrapUpMode.NONE, 0))
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core(ev.AgentDisconnected("a1"))
    assert core.state("a1") == "on_call"
    core(ev.CallerHangup("c1"), 9)
    assert core.state("a1") == "not_ready"
    assert core.engine.agents["a1"].reason == "disconnected"


def test_refused_requests_change_nothing() -> None:
    core = two_agents()
    with pytest.raises(WrongState):
        core(ev.AgentReady("a1"))  # not signed in
    core.login_ready("a1")
    with pytest.raises(IllegalTransition):
        core(ev.AgentLogin("a1"))
    with pytest.raises(UnknownReason):
        core(ev.AgentNotReady("a1", "nap"))
    core.call("c1", "g")
    core.login_ready("a2")
    with pytest.raises(Forbidden):
        core(ev.AcceptOffer("a2", "c1"))
    with pytest.raises(Forbidden):
        core(ev.AgentHangup("a2", "c1"))
    before = len(core.log)
    assert core.state("a1") == "reserved" and core.state("a2") == "ready"
    assert len(core.log) == before


def test_timer_outputs_are_kept_when_a_request_is_refused() -> None:
    core = two_agents(ring_timeout=10.0)
    core.login_ready("a1")
    core.call("c1", "g")
    with pytest.raises(WrongState) as err:
        core.at(20)(ev.AcceptOffer("a1", "c1"))  # the offer timed out at 10
    assert any(isinstance(o, ev.OfferEnded) and o.result == "timeout" for o in err.value.outputs)
    assert core.state("a1") == "not_ready"
