"""Overflow conditions and actions, capacity, business hours, paused groups, callbacks."""

from __future__ import annotations

import datetime as dt

import pytest
from core_harness import Core, agent, center, group

from acd import events as ev
from acd.errors import WrongState
from acd.model import (
    Calendar,
    CallbackPolicy,
    Conditions,
    EntryAction,
    EntryRule,
    OverflowAction,
    OverflowRule,
    ServiceTarget,
    WrapUp,
    WrapUpMode,
)

WIDEN = OverflowAction.WIDEN


def rule(
    action: OverflowAction = WIDEN, targets: tuple[str, ...] = ("general",), **when: object
) -> OverflowRule:
    return OverflowRule(name="r", when=Conditions(**when), action=action, targets=targets)  # type: ignore[arg-type]


def vip_general(*rules: OverflowRule, **gkw: object) -> Core:
    return Core(
        center(
            [group("vip", overflow=rules, **gkw), group("general")],
            [agent("v1", {"vip": 5}), agent("g1", {"general": 5}), agent("g2", {"general": 5})],
        )
    )


def test_widen_after_waiting_keeps_the_call_in_its_own_queue_too() -> None:
    core = vip_general(rule(waited=30))
    core.login_ready("g1")
    core.at(0).call("c1", "vip", brand="vip")
    assert core.offered_to("c1") is None
    core.tick(29.9)
    assert core.offered_to("c1") is None
    core.tick(30)
    assert core.offered_to("c1") == "g1"
    o = core.last(ev.CallOverflowed)
    assert (o.from_group, o.to_group, o.action, o.at) == ("vip", "general", "widen", 30.0)
    assert core.engine.calls["c1"].group == "vip"


def test_widened_call_keeps_its_place_and_own_agents_still_take_it() -> None:
    core = vip_general(rule(waited=10))
    core(ev.AgentLogin("v1"))
    core.at(0).call("c1", "vip", brand="vip")
    core.tick(11)
    assert set(core.engine.calls["c1"].targets) == {"vip", "general"}
    core(ev.AgentReady("v1"))
    assert core.offered_to("c1") == "v1"


def test_widen_with_lower_minimum_level_bullseye() -> None:
    core = Core(
        center(
            [
                group(
                    "g",
                    min_level=7,
                    overflow=(
                        OverflowRule("ring2", Conditions(waited=20), WIDEN, ("g",), min_level=3),
                    ),
                )
            ],
            [agent("junior", {"g": 4}), agent("trainee", {"g": 2})],
        )
    )
    core.login_ready("junior", "trainee")
    core.call("c1", "g")
    assert core.offered_to("c1") is None
    core.tick(20)
    assert core.offered_to("c1") == "junior"


def test_move_keeps_arrival_time_and_applies_target_rules() -> None:
    core = vip_general(rule(OverflowAction.MOVE, waited=15))
    core.at(5).call("c1", "vip")
    core.tick(20)
    call = core.engine.calls["c1"]
    assert call.group == "general" and call.queued_at == 5.0 and call.entered_at == 20.0
    assert core.all(ev.CallOverflowed)[-1].action == "move"
    core.login_ready("g1")
    assert core.offered_to("c1") == "g1"


@pytest.mark.parametrize(
    ("when", "setup_ready", "fires"),
    [
        ({"queue_length": 2}, (), True),
        ({"queue_length": 3}, (), False),
        ({"no_agent_signed_in": True}, (), True),
        ({"no_agent_ready": True}, (), True),
        ({"estimated_wait": 1000.0}, (), True),  # nobody staffed: the wait is unbounded
    ],
)
def test_state_conditions(
    when: dict[str, object], setup_ready: tuple[str, ...], fires: bool
) -> None:
    core = vip_general(rule(**when))
    core.login_ready("g1", "g2")
    core(ev.AgentNotReady("g1", "break"))
    core(ev.AgentNotReady("g2", "break"))
    core.call("c1", "vip")
    core.call("c2", "vip")
    core.tick(10)
    widened = "general" in core.engine.calls["c2"].targets
    assert widened is fires


def test_no_agent_ready_is_false_while_a_group_agent_is_ready_but_busy_with_nothing() -> None:
    core = vip_general(rule(no_agent_ready=True))
    core.login_ready("v1")
    core(ev.AgentNotReady("v1", "break"))
    core.call("c1", "vip")
    assert "general" in core.engine.calls["c1"].targets  # checked on entry


def test_estimated_wait_condition_with_staffed_agents() -> None:
    # one staffed, busy agent, AHT 100 s: a call at position p waits about (p+1) x 100 s
    core = vip_general(rule(estimated_wait=150.0), expected_aht=100.0)
    core.login_ready("v1")
    core.call("c0", "vip")
    core.answer("v1", "c0")
    core.call("c1", "vip")
    assert "general" not in core.engine.calls["c1"].targets  # EWT 100
    core.call("c2", "vip")
    assert "general" in core.engine.calls["c2"].targets  # EWT 200
    assert core.engine.estimated_wait("c2") == pytest.approx(200.0)


def test_service_level_below_target_condition() -> None:
    core = vip_general(rule(service_level_below=0.8), target=ServiceTarget(0.8, 10))
    core.at(0).call("c0", "vip")
    core.at(100)(ev.CallerHangup("c0"))  # abandoned after the threshold: SL 0 %
    core.login_ready("v1")
    core.call("c1", "vip")
    assert core.offered_to("c1") == "v1"  # c1 is offered at once, no overflow needed
    core.call("c2", "vip")
    core.tick(106)
    assert "general" in core.engine.calls["c2"].targets


def test_no_agent_signed_in_fires_at_once_when_the_last_agent_leaves() -> None:
    core = vip_general(rule(no_agent_signed_in=True))
    core.login_ready("v1")
    core.call("c0", "vip")
    core.answer("v1", "c0")
    core.call("c1", "vip")
    assert "general" not in core.engine.calls["c1"].targets
    core(ev.AgentLogout("v1"))  # deferred until the call and its wrap-up end
    core(ev.CallerHangup("c0"), 1)
    core.tick(10.9)
    assert "general" not in core.engine.calls["c1"].targets
    core.tick(11)
    assert core.state("v1") == "logged_out"
    assert "general" in core.engine.calls["c1"].targets


def test_callback_and_voicemail_actions() -> None:
    core = vip_general(
        rule(OverflowAction.CALLBACK, targets=(), waited=60),
        rule(OverflowAction.VOICEMAIL, targets=(), waited=120),
    )
    core.call("c1", "vip")
    core.tick(60)
    assert core.last(ev.OfferCallback).call_id == "c1"
    core.tick(120)
    assert core.last(ev.RecordVoicemail).call_id == "c1"
    assert core.engine.calls["c1"].phase.value == "parked"
    core(ev.VoicemailRecorded("c1", "rec/123.wav"), 30)
    call = core.engine.calls["c1"]
    assert call.kind is ev.CallKind.VOICEMAIL and call.queued_at == 0.0
    core.login_ready("v1")
    offer = core.last(ev.CallOffered)
    assert offer.screen.voicemail == "rec/123.wav" and offer.screen.kind is ev.CallKind.VOICEMAIL


def test_full_queue_blocks_and_applies_the_full_action() -> None:
    core = vip_general(capacity=2, full=EntryRule(EntryAction.MOVE, target="general"))
    core.call("c1", "vip")
    core.call("c2", "vip")
    core.call("c3", "vip")
    blocked = core.last(ev.CallBlocked)
    assert (blocked.call_id, blocked.reason) == ("c3", "full")
    assert core.engine.calls["c3"].group == "general"
    core2 = vip_general(capacity=1, full=EntryRule(EntryAction.MESSAGE, prompt="busy"))
    core2.call("c1", "vip")
    core2.call("c2", "vip")
    assert core2.last(ev.EntryTreatment).prompt == "busy"
    assert core2.last(ev.CallEnded).cause is ev.EndCause.BLOCKED


def test_closed_group_applies_the_closed_action() -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    weekday = (((8 * 60, 20 * 60),),) * 5
    weekend: tuple[tuple[tuple[int, int], ...], ...] = ((), ())
    cal = Calendar("office", tz, weekday + weekend)
    cfg = center(
        [group("g", calendar="office", closed=EntryRule(EntryAction.VOICEMAIL))],
        [agent("a1", {"g": 5})],
        calendars={"office": cal},
    )
    monday_9am = dt.datetime(2026, 11, 23, 9, 0, tzinfo=tz).timestamp()
    core = Core(cfg, now=monday_9am)
    core.call("open", "g")
    assert core.engine.calls["open"].phase.value == "queued"
    core.at(monday_9am + 12 * 3600).call("late", "g")  # 21:00
    assert core.last(ev.CallBlocked).reason == "closed"
    assert core.last(ev.RecordVoicemail).call_id == "late"
    core(ev.CallerHangup("late"))
    assert core.last(ev.CallEnded).cause is ev.EndCause.VOICEMAIL_EMPTY


def test_paused_group_refuses_new_calls_but_serves_waiting_ones() -> None:
    core = vip_general()
    core.call("c1", "vip")
    core(ev.PauseGroup("vip", "sup"))
    core.call("c2", "vip")
    assert core.last(ev.CallBlocked).reason == "paused"
    core.login_ready("v1")
    assert core.offered_to("c1") == "v1"
    with pytest.raises(WrongState):
        core(ev.PauseGroup("vip", "sup"))
    core(ev.PauseGroup("vip", "sup", paused=False))
    core.call("c3", "vip")
    assert core.engine.calls["c3"].phase.value == "queued"


def test_callback_offer_on_entry_when_the_wait_is_long() -> None:
    core = vip_general(callback=CallbackPolicy(offer_when_estimated_wait=120.0), expected_aht=200.0)
    core.login_ready("v1")
    core.call("c0", "vip")
    core.answer("v1", "c0")
    core.call("c1", "vip")  # EWT 200 s
    assert core.last(ev.OfferCallback).call_id == "c1"


def test_callback_keeps_the_place_and_retries() -> None:
    policy = CallbackPolicy(retry_delay=60.0, max_attempts=2)
    core = vip_general(callback=policy, wrap_up=WrapUp(WrapUpMode.NONE, 0))
    core.at(0).call("c1", "vip", caller="13800000001")
    core.at(10).call("c2", "vip")
    core(ev.CallbackChosen("c1", "13900000009"))
    assert core.last(ev.ReleaseCaller).call_id == "c1"
    core.login_ready("v1")
    assert core.offered_to("c1") == "v1"  # still ahead of c2
    core(ev.AcceptOffer("v1", "c1"))
    assert core.last(ev.DialOut).number == "13900000009"
    core(ev.DialOutResult("c1", False, "no_answer"), 5)
    assert core.last(ev.CallbackQueued).due_at == 75.0
    assert core.offered_to("c2") == "v1"  # c1 waits for its retry
    core.answer("v1", "c2")
    core(ev.CallerHangup("c2"), 100)
    assert core.offered_to("c1") == "v1"  # due since 75, first when v1 is free
    core(ev.AcceptOffer("v1", "c1"))
    core(ev.DialOutResult("c1", False, "busy"))
    assert core.last(ev.CallEnded).cause is ev.EndCause.CALLBACK_FAILED
    assert [a.outcome for a in core.all(ev.CallbackAttempted)] == ["no_answer", "busy"]


def test_scheduled_callback_comes_due_at_its_time() -> None:
    core = vip_general()
    core.login_ready("v1")
    core(ev.ScheduleCallback(ev.CallInfo("cb1", caller="1390"), "vip", "1390", at=500.0))
    assert core.offered_to("cb1") is None
    core.tick(499)
    assert core.offered_to("cb1") is None
    core.tick(500)
    assert core.offered_to("cb1") == "v1"


def test_connected_callback_and_agent_outcomes() -> None:
    core = vip_general(wrap_up=WrapUp(WrapUpMode.NONE, 0))
    core.login_ready("v1")
    core(ev.ScheduleCallback(ev.CallInfo("cb1"), "vip", "1390", at=0.0))
    core(ev.AcceptOffer("v1", "cb1"))
    core(ev.DialOutResult("cb1", True))
    assert core.state("v1") == "on_call"
    core(ev.CallbackOutcome("v1", "cb1", "reschedule", at=1000.0))
    core(ev.AgentLegEnded("cb1", "v1"), 30)
    assert core.engine.calls["cb1"].phase.value == "parked"
    core.tick(1000)
    assert core.offered_to("cb1") == "v1"
