"""Supervisor operations the core supports, restore after resync, and config reload."""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType

import pytest
from core_harness import Core, agent, center, group

from acd import events as ev
from acd.errors import UnknownGroup, WrongState
from acd.model import WrapUp, WrapUpMode
from acd.states import AgentState as S


def small() -> Core:
    return Core(
        center(
            [group("g", wrap_up=WrapUp(WrapUpMode.NONE, 0)), group("h")],
            [agent("a1", {"g": 5}), agent("a2", {"g": 5}), agent("h1", {"h": 5})],
        )
    )


def test_force_ready_not_ready_and_logout_carry_the_actor() -> None:
    core = small()
    core(ev.AgentLogin("a1"))
    core(ev.AgentReady("a1", actor="sup"))
    assert core.last(ev.AgentStateChanged).actor == "sup"
    core(ev.AgentNotReady("a1", "break", actor="sup"))
    change = core.last(ev.AgentStateChanged)
    assert (change.new, change.reason, change.actor) == (S.NOT_READY, "break", "sup")
    core(ev.AgentLogout("a1", actor="sup"))
    assert core.state("a1") == "logged_out"


def test_assign_a_waiting_call_to_a_named_agent() -> None:
    core = small()
    core.login_ready("a1", "a2")
    core.call("busy1", "g")
    core.call("busy2", "g")
    core.call("c1", "g")
    core.call("c2", "g")
    core(ev.AssignCall("c2", "a2", "sup"))
    assert core.last(ev.CallAssigned).agent_id == "a2"
    core.answer("a2", "busy2")
    core(ev.AgentLegEnded("busy2", "a2"))
    assert core.offered_to("c2") == "a2"  # assigned, ahead of c1
    assert core.last(ev.CallOffered).assigned_by == "sup"


def test_assigned_call_goes_back_to_its_place_when_the_agent_declines() -> None:
    core = small()
    core.login_ready("a1")
    core.at(1).call("c1", "g")  # offered to a1
    core(ev.AgentLogin("a2"))
    core.at(2).call("c2", "g")
    core(ev.AssignCall("c2", "a2", "sup"))
    core(ev.AgentReady("a2"))
    core(ev.RejectOffer("a2", "c2"))
    call = core.engine.calls["c2"]
    assert call.phase.value == "queued" and call.assigned_to is None and call.queued_at == 2.0


def test_a_ringing_call_is_taken_back_and_assigned_to_another_agent() -> None:
    core = small()
    core.login_ready("a1")
    core.at(1).call("c1", "g")  # rings a1, who is away from the desk
    core.at(2).call("c2", "g")  # waits behind it
    core(ev.AgentLogin("a2"))
    with pytest.raises(WrongState, match="ringing at a1 already"):
        core(ev.AssignCall("c1", "a1", "sup"))
    core.at(3)(ev.AssignCall("c1", "a2", "sup"))
    ended = core.last(ev.OfferEnded)
    assert (ended.call_id, ended.agent_id, ended.result, ended.reason) == (
        "c1", "a1", "withdrawn", "supervisor")  # fmt: skip
    assert core.last(ev.CallAssigned).agent_id == "a2"
    # a1 is ready again, missed nothing, and takes the next call, not the one taken from it
    assert core.engine.agents["a1"].misses == 0
    assert core.offered_to("c2") == "a1"
    core(ev.AgentReady("a2"))
    assert core.offered_to("c1") == "a2"
    assert core.last(ev.CallOffered).assigned_by == "sup"
    assert core.engine.calls["c1"].queued_at == 1.0  # its place was kept


def test_a_ringing_call_is_taken_back_and_moved_or_withdrawn() -> None:
    core = small()
    core.login_ready("a1", "a2")
    core(ev.AgentNotReady("a2", "break"))
    core.at(1).call("c1", "g")  # rings a1
    with pytest.raises(WrongState, match="already in g"):
        core(ev.MoveCall("c1", "g", "sup"))
    with pytest.raises(UnknownGroup):
        core(ev.MoveCall("c1", "nope", "sup"))
    assert core.offered_to("c1") == "a1"  # a refused action changed nothing
    core(ev.MoveCall("c1", "h", "sup"))
    assert core.last(ev.OfferEnded).reason == "supervisor"
    assert core.last(ev.CallOverflowed).to_group == "h"
    assert core.engine.calls["c1"].group == "h" and core.offered_to("c1") is None
    assert core.state("a1") == "ready"  # and not offered c1 again: a1 does not serve h
    core.at(2).call("c2", "g")  # rings a1; a supervisor asked for a1's break meanwhile
    core(ev.AgentNotReady("a1", "break", actor="sup"))
    core(ev.WithdrawCall("c2", "voicemail", "sup"))
    assert core.last(ev.RecordVoicemail).call_id == "c2"
    assert core.state("a1") == "not_ready"  # the pending break applies once the offer ends
    assert core.engine.agents["a1"].reason == "break"


def test_priority_of_a_ringing_call_is_refused() -> None:
    core = small()
    core.login_ready("a1")
    core.call("c1", "g")
    with pytest.raises(WrongState, match="not waiting"):
        core(ev.SetCallPriority("c1", 150.0, "sup"))


def test_change_priority_move_and_withdraw() -> None:
    core = small()
    core(ev.AgentLogin("a1"))
    core.at(1).call("c1", "g")
    core.at(2).call("c2", "g")
    core(ev.SetCallPriority("c2", 150.0, "sup"))
    core(ev.AgentReady("a1"))
    assert core.offered_to("c2") == "a1"
    core(ev.MoveCall("c1", "h", "sup"))
    moved = core.last(ev.CallOverflowed)
    assert (moved.to_group, moved.actor) == ("h", "sup")
    with pytest.raises(UnknownGroup):
        core(ev.MoveCall("c1", "nope", "sup"))
    core(ev.WithdrawCall("c1", "voicemail", "sup"))
    assert core.last(ev.RecordVoicemail).call_id == "c1"
    with pytest.raises(WrongState):
        core(ev.WithdrawCall("c1", "callback", "sup"))  # not waiting any more
    core.call("c3", "h")
    core(ev.WithdrawCall("c3", "callback", "sup"))
    assert core.engine.calls["c3"].kind is ev.CallKind.CALLBACK


def test_skill_change_is_matched_at_once() -> None:
    core = small()
    core.login_ready("a1")
    core.call("c1", "h")
    assert core.offered_to("c1") is None
    core(ev.SetAgentSkills("a1", "sup", skills={"g": 5, "h": 3}))
    assert core.offered_to("c1") == "a1"
    assert core.last(ev.AgentSkillsChanged).skills == {"g": 5, "h": 3}
    with pytest.raises(WrongState):
        core(ev.SetAgentSkills("a1", "sup", skills={"g": 11}))


def test_group_order_change_applies_to_the_next_choice() -> None:
    core = Core(center([group("x"), group("y")], [agent("a", {"x": 5, "y": 5}, groups=["x", "y"])]))
    core(ev.AgentLogin("a"))
    core.call("cx", "x")
    core.call("cy", "y")
    core(ev.SetAgentSkills("a", "sup", groups=("y", "x")))
    core(ev.AgentReady("a"))
    assert core.offered_to("cy") == "a"


def test_restore_connected_call_after_a_restart() -> None:
    core = small()
    core.at(1000)(
        ev.RestoreConnected(
            ev.CallInfo("c9", caller="1380"), "g", "a1", queued_at=900.0, answered_at=950.0
        )
    )
    a = core.engine.agents["a1"]
    assert a.state is S.ON_CALL and a.pending is S.NOT_READY and a.pending_reason == "recovered"
    core(ev.CallerHangup("c9"), 10)
    end = core.last(ev.CallEnded)
    assert end.queued_at == 900.0 and end.answered_at == 950.0
    assert a.state is S.NOT_READY and a.reason == "recovered"


def test_restored_waiting_call_keeps_its_place() -> None:
    core = small()
    core(ev.AgentLogin("a1"))
    core.at(1000).call("new", "g")
    core(ev.EnqueueCall(ev.CallInfo("old"), "g", queued_at=500.0))
    core(ev.AgentReady("a1"))
    assert core.offered_to("old") == "a1"


def test_reload_adds_agents_and_groups_without_disturbing_calls() -> None:
    core = small()
    core.login_ready("a1")
    core.call("c1", "g")
    core.answer("a1", "c1")
    core.call("c2", "g")
    cfg = core.engine.config
    groups = dict(cfg.groups)
    groups["new"] = group("new")
    agents = dict(cfg.agents)
    agents["n1"] = agent("n1", {"new": 5, "g": 5})
    del agents["a2"]
    new_cfg = replace(
        cfg, groups=MappingProxyType(groups), agents=MappingProxyType(agents), version="v2"
    )
    core(ev.Reload(new_cfg, "admin"))
    assert core.last(ev.ConfigApplied).version == "v2"
    assert core.engine.calls["c1"].phase.value == "connected"
    assert "a2" not in core.engine.agents
    core.login_ready("n1")
    assert core.offered_to("c2") == "n1"
    core.call("c3", "new")
    assert core.engine.calls["c3"].phase.value == "queued"


def test_a_group_removed_by_reload_takes_no_new_calls_but_serves_its_own() -> None:
    core = small()
    core.login_ready("h1")
    core.call("c1", "h")
    assert core.offered_to("c1") == "h1"
    cfg = core.engine.config
    groups = {gid: g for gid, g in cfg.groups.items() if gid != "h"}
    core(ev.Reload(replace(cfg, groups=MappingProxyType(groups), version="v2"), "admin"))
    core.call("c2", "h")
    assert core.last(ev.CallBlocked).call_id == "c2"
    assert core.last(ev.CallBlocked).reason == "paused"
    # The offer rings out: the call goes back to its retired group, which still serves it.
    core.tick(core.t + cfg.groups["h"].ring_timeout + 1)
    assert core.state("h1") == "not_ready" and core.engine.calls["c1"].phase.value == "queued"
    core(ev.AgentReady("h1"))
    assert core.offered_to("c1") == "h1"
    core.answer("h1", "c1")
    assert core.engine.calls["c1"].phase.value == "connected"
    # Put back by a later reload, the group takes calls again.
    core(ev.Reload(replace(cfg, version="v3"), "admin"))
    core.call("c3", "h")
    assert core.engine.calls["c3"].phase.value == "queued"
