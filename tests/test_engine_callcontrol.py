"""Hold, transfers, consults and conferences, confirmed by the switch."""

from __future__ import annotations

import pytest
from core_harness import Core, agent, center, group

from acd import events as ev
from acd.errors import Forbidden, NotAvailable, WrongState
from acd.events import Target, TargetKind
from acd.model import WrapUp, WrapUpMode

AGENT, GROUP, EXT = TargetKind.AGENT, TargetKind.GROUP, TargetKind.EXTERNAL


def talking() -> Core:
    core = Core(
        center(
            [group("g", wrap_up=WrapUp(WrapUpMode.TIMED, 30)), group("billing")],
            [agent("a1", {"g": 5}), agent("a2", {"g": 5}), agent("b1", {"billing": 5})],
        )
    )
    core.login_ready("a1")
    core.at(0).call("c1", "g")
    core.at(2).answer("a1", "c1")
    return core


def test_hold_and_retrieve_need_the_switch_and_count_hold_time() -> None:
    core = talking()
    out = core(ev.AgentHold("a1", "c1"))
    assert out == [ev.HoldCaller(2.0, "c1", True)]
    assert not core.engine.calls["c1"].held  # not until the switch confirms
    core(ev.HoldChanged("c1", True), 1)
    with pytest.raises(WrongState):
        core(ev.HoldChanged("c1", True))  # a duplicate changes nothing
    core(ev.AgentHold("a1", "c1", held=False), 10)
    core(ev.HoldChanged("c1", False))
    core(ev.CallerHangup("c1"), 5)
    end = core.last(ev.CallEnded)
    assert end.hold == 10.0 and end.talk == 16.0


def test_only_the_agent_on_the_call_controls_it() -> None:
    core = talking()
    core.login_ready("a2")
    for event in (
        ev.AgentHold("a2", "c1"),
        ev.AgentHangup("a2", "c1"),
        ev.BlindTransfer("a2", "c1", Target(GROUP, "billing")),
        ev.ConsultStart("a2", "c1", Target(AGENT, "b1")),
        ev.SendDigits("a2", "c1", "1"),
    ):
        with pytest.raises(Forbidden):
            core(event)


def test_blind_transfer_to_a_group_requeues_after_the_leg_drops() -> None:
    core = talking()
    core.login_ready("b1")
    core(ev.BlindTransfer("a1", "c1", Target(GROUP, "billing")), 10)
    drop = core.last(ev.DropLeg)
    assert (drop.party, drop.reason) == ("a1", "transfer")
    assert core.state("a1") == "on_call"
    core(ev.AgentLegEnded("c1", "a1"), 1)
    assert core.state("a1") == "wrap_up"
    assert core.offered_to("c1") == "b1"
    core.answer("b1", "c1")
    core(ev.CallerHangup("c1"), 30)
    end = core.last(ev.CallEnded)
    assert end.agents == ("a1", "b1") and end.groups == ("g", "billing")
    assert end.cause is ev.EndCause.COMPLETED


def test_blind_transfer_to_an_agent_and_to_an_external_number() -> None:
    core = talking()
    core.login_ready("a2")
    core(ev.BlindTransfer("a1", "c1", Target(AGENT, "a2")))
    core(ev.AgentLegEnded("c1", "a1"))
    assert core.offered_to("c1") == "a2"
    core.answer("a2", "c1")
    core(ev.BlindTransfer("a2", "c1", Target(EXT, "95588")))
    assert core.last(ev.TransferExternal).number == "95588"
    core(ev.TransferredOut("c1"))
    assert core.last(ev.CallEnded).cause is ev.EndCause.TRANSFERRED_OUT
    assert core.state("a2") == "wrap_up"


def test_transfer_to_a_signed_out_agent_is_refused() -> None:
    core = talking()
    with pytest.raises(NotAvailable):
        core(ev.BlindTransfer("a1", "c1", Target(AGENT, "a2")))
    with pytest.raises(WrongState):
        core(ev.BlindTransfer("a1", "c1", Target(AGENT, "a1")))


def test_consult_an_agent_then_complete_the_transfer() -> None:
    core = talking()
    core.login_ready("a2")
    core(ev.ConsultStart("a1", "c1", Target(AGENT, "a2")), 5)
    assert core.last(ev.HoldCaller).held
    core(ev.HoldChanged("c1", True))
    consult = core.engine.calls["c1"].consult
    assert consult is not None and core.offered_to(consult.id) == "a2"
    offer = core.last(ev.CallOffered)
    assert offer.screen.consult_from == "a1" and offer.screen.call.caller
    core(ev.AcceptOffer("a2", consult.id))
    connect = core.last(ev.ConnectAgent)
    assert (connect.consult_of, connect.from_agent) == ("c1", "a1")
    core(ev.AgentLegAnswered(consult.id, "a2"), 1)
    core(ev.ConsultComplete("a1", "c1"), 20)
    assert core.last(ev.BridgeConsult) == ev.BridgeConsult(28.0, "c1", consult.id, False)
    core(ev.ConsultBridged("c1", False))
    call = core.engine.calls["c1"]
    assert [a.id for a in call.agents] == ["a2"] and not call.held
    assert core.state("a1") == "wrap_up" and core.state("a2") == "on_call"
    consult_end = [e for e in core.all(ev.CallEnded) if e.call_id == consult.id]
    assert consult_end and consult_end[0].cause is ev.EndCause.ENDED
    core(ev.CallerHangup("c1"), 60)
    assert core.last(ev.CallEnded).agents == ("a1", "a2")


def test_consult_a_group_and_cancel() -> None:
    core = talking()
    core(ev.ConsultStart("a1", "c1", Target(GROUP, "billing")))
    consult = core.engine.calls["c1"].consult
    assert consult is not None and consult.phase.value == "queued"
    core.login_ready("b1")
    assert core.offered_to(consult.id) == "b1"
    core.answer("b1", consult.id)
    core(ev.ConsultCancel("a1", "c1"), 10)
    assert core.state("b1") == "wrap_up"
    assert core.engine.calls["c1"].consult is None
    assert core.last(ev.DropLeg).party == "b1"
    # the caller is retrieved (the agent held it for the consult)
    core(ev.HoldChanged("c1", True))
    core(ev.ConsultStart("a1", "c1", Target(GROUP, "billing")))
    core(ev.ConsultCancel("a1", "c1"))
    assert core.last(ev.HoldCaller) == ev.HoldCaller(core.t, "c1", False)


def test_consult_external_and_conference_then_drop_the_party() -> None:
    core = talking()
    core(ev.ConsultStart("a1", "c1", Target(EXT, "10010")))
    dial = core.last(ev.DialConsult)
    assert dial.number == "10010"
    core(ev.DialOutResult(dial.consult_id, True), 3)
    core(ev.ConferenceMerge("a1", "c1"))
    core(ev.ConsultBridged("c1", True))
    call = core.engine.calls["c1"]
    assert call.external == ["10010"] and [a.id for a in call.agents] == ["a1"]
    core(ev.ConferenceDrop("a1", "c1", "10010"))
    assert core.last(ev.DropLeg).party == "10010"
    core(ev.ExternalPartyChanged("c1", "10010", joined=False))
    assert core.engine.calls["c1"].external == []
    assert core.state("a1") == "on_call"


def test_conference_with_an_agent_added_on_answer() -> None:
    core = talking()
    core.login_ready("a2")
    core(ev.ConsultStart("a1", "c1", Target(AGENT, "a2"), conference=True))
    consult = core.engine.calls["c1"].consult
    assert consult is not None
    core.answer("a2", consult.id)
    assert core.last(ev.BridgeConsult).conference
    core(ev.ConsultBridged("c1", True))
    assert [a.id for a in core.engine.calls["c1"].agents] == ["a1", "a2"]
    core(ev.AgentLegEnded("c1", "a1"), 5)  # a1 leaves the conference
    assert core.state("a1") == "wrap_up" and core.state("a2") == "on_call"
    core(ev.AgentLegEnded("c1", "a2"), 5)
    assert core.last(ev.CallEnded).by == "a2"


def test_consult_to_an_agent_who_does_not_answer_ends_the_consult() -> None:
    core = talking()
    core.login_ready("a2")
    core(ev.ConsultStart("a1", "c1", Target(AGENT, "a2")))
    consult = core.engine.calls["c1"].consult
    assert consult is not None
    core.tick(core.t + 16)  # ring timeout
    assert core.engine.calls["c1"].consult is None
    assert core.state("a2") == "not_ready"


def test_caller_hanging_up_during_a_consult_ends_both_legs() -> None:
    core = talking()
    core.login_ready("a2")
    core(ev.ConsultStart("a1", "c1", Target(AGENT, "a2")))
    consult = core.engine.calls["c1"].consult
    assert consult is not None
    core.answer("a2", consult.id)
    core(ev.CallerHangup("c1"), 4)
    assert core.state("a1") == "wrap_up" and core.state("a2") == "wrap_up"
    assert not core.engine.calls


def test_send_digits_validates_them() -> None:
    core = talking()
    core(ev.SendDigits("a1", "c1", "12#"))
    assert core.last(ev.PlayDigits).digits == "12#"
    with pytest.raises(WrongState):
        core(ev.SendDigits("a1", "c1", "x"))


def test_agent_hangup_is_confirmed_by_the_leg_end() -> None:
    core = talking()
    out = core(ev.AgentHangup("a1", "c1"))
    assert out == [ev.DropLeg(core.t, "c1", "a1", "hangup")]
    core(ev.AgentLegEnded("c1", "a1"), 1)
    assert core.last(ev.CallEnded).by == "a1"
    assert core.state("a1") == "wrap_up"
