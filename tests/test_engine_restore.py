"""Restoring calls and tasks after a restart, failed transfers and supervisor intercepts."""

from __future__ import annotations

import pytest
from core_harness import Core, agent, center, group, info

from acd import events as ev
from acd.errors import UnknownCall, WrongState
from acd.events import CallKind, EndCause, Target, TargetKind


def core() -> Core:
    c = Core(center([group("g")], [agent("a1", {"g": 5}), agent("a2", {"g": 5})]), now=100)
    return c


def test_restored_waiting_call_keeps_place_and_is_flagged() -> None:
    c = core()
    c(ev.EnqueueCall(info("old"), "g", queued_at=40.0))
    c(ev.EnqueueCall(info("new"), "g"))
    queued = c.all(ev.CallQueued)
    assert [q.restored for q in queued] == [True, False]
    c.login_ready("a1")
    assert c.offered_to("old") == "a1"


def test_restore_connected_keeps_kind_and_priority() -> None:
    c = core()
    c(ev.AgentLogin("a1"))
    c(
        ev.RestoreConnected(
            info("cb", caller="13800000000"),
            "g",
            "a1",
            queued_at=10,
            answered_at=90,
            kind=CallKind.CALLBACK,
            priority=77,
        )
    )
    call = c.engine.calls["cb"]
    assert call.kind is CallKind.CALLBACK and call.base == 77
    assert call.number == "13800000000"
    # the customer of a connected callback hangs up: the task is done
    c(ev.CallerHangup("cb"), 5)
    end = c.last(ev.CallEnded)
    assert end.cause is EndCause.COMPLETED and end.by == "caller"
    with pytest.raises(WrongState):
        c(ev.RestoreConnected(info("x"), "g", "a2", 1, 2, kind=CallKind.CONSULT))


def test_connected_callback_caller_hangup_after_dial_out() -> None:
    c = core()
    c.login_ready("a1")
    c(ev.ScheduleCallback(info("cb"), "g", "13900000000", at=100))
    c(ev.AcceptOffer("a1", "cb"))
    assert c.last(ev.DialOut).number == "13900000000"
    c(ev.DialOutResult("cb", answered=True))
    c(ev.CallerHangup("cb"), 30)
    assert c.last(ev.CallEnded).cause is EndCause.COMPLETED
    assert c.state("a1") == "wrap_up"


def test_owed_voicemail_task_restored_with_its_place_and_attempts() -> None:
    c = core()
    c(
        ev.ScheduleCallback(
            info("vm"), "g", "139", at=100, queued_at=20, voicemail="rec-1", attempts=1
        )
    )
    call = c.engine.calls["vm"]
    assert call.kind is CallKind.VOICEMAIL and call.queued_at == 20 and call.attempts == 1
    assert c.last(ev.CallbackQueued).attempt == 1
    c(ev.EnqueueCall(info("in"), "g", queued_at=50))
    c.login_ready("a1")
    assert c.offered_to("vm") == "a1"  # older place first


def test_failed_external_transfer_leaves_the_call_with_its_agent() -> None:
    c = core()
    c.login_ready("a1")
    c.call("c1", "g")
    c.answer("a1", "c1")
    c(ev.BlindTransfer("a1", "c1", Target(TargetKind.EXTERNAL, "95588")))
    with pytest.raises(WrongState):  # one transfer at a time
        c(ev.BlindTransfer("a1", "c1", Target(TargetKind.EXTERNAL, "95599")))
    c(ev.TransferFailed("c1", "busy"))
    assert c.last(ev.CallPartiesChanged).event == "transfer_failed"
    c(ev.BlindTransfer("a1", "c1", Target(TargetKind.EXTERNAL, "95599")))
    with pytest.raises(UnknownCall):
        c(ev.TransferredOut("c2"))
    c(ev.TransferredOut("c1"))
    assert c.last(ev.CallEnded).cause is EndCause.TRANSFERRED_OUT


def test_intercept_ends_the_call_for_the_acd_and_frees_the_agent() -> None:
    c = core()
    c.login_ready("a1")
    c.call("c1", "g")
    with pytest.raises(WrongState):
        c(ev.InterceptCall("c1", "sup-1"))  # still ringing
    c.answer("a1", "c1")
    c(ev.InterceptCall("c1", "sup-1"), 20)
    end = c.last(ev.CallEnded)
    assert end.cause is EndCause.INTERCEPTED and end.by == "sup-1"
    assert c.state("a1") in ("wrap_up", "ready")
    assert "c1" not in c.engine.calls


def test_waiting_caller_chooses_voicemail_and_keeps_the_place() -> None:
    c = core()
    c.call("c1", "g")
    c(ev.VoicemailChosen("c1"), 30)
    over = c.last(ev.CallOverflowed)
    assert over.rule == "caller" and over.actor == ""
    assert c.last(ev.RecordVoicemail).call_id == "c1"
    c(ev.VoicemailRecorded("c1", "rec-9"))
    c.call("c2", "g")
    c.login_ready("a1")
    assert c.offered_to("c1") == "a1"
    with pytest.raises(WrongState):
        c(ev.VoicemailChosen("c1"))  # the task rings an agent: no caller waits on it
    c(ev.VoicemailChosen("c2"))


def test_sign_out_forgives_the_reject_cooldown() -> None:
    c = Core(center([group("g", reject_delay=30.0)], [agent("a1", {"g": 5})]))
    c.login_ready("a1")
    c.call("c1", "g")
    c(ev.AgentLogout("a1"))  # deferred: an offer rings
    c(ev.RejectOffer("a1", "c1"), 1)
    assert c.state("a1") == "logged_out"
    c.login_ready("a1")
    assert c.offered_to("c1") == "a1"  # a fresh sign-in, no leftover cooldown


def test_call_taken_from_a_named_agent_to_a_callback_goes_to_anyone_idle() -> None:
    c = core()
    c.login_ready("a1")
    c(ev.AgentNotReady("a1", "break"))
    c.call("c1", "g")
    c(ev.AssignCall("c1", "a1", "sup"))
    c.login_ready("a2")
    assert c.offered_to("c1") is None  # kept for a1
    c(ev.WithdrawCall("c1", "callback", "sup"))
    assert c.offered_to("c1") == "a2"
