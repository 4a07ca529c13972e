"""The /admin socket end to end: a real server on 127.0.0.1 with every component (journal,
switch link, agent gateway), a simulated switch, real agent desktops and real admin clients."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from admin_harness import Server, running, until

from acd import events as ev
from acd.states import AgentState
from agent_gateway import messages as am
from agent_gateway.admin_client import AdminClient, AdminError
from agent_gateway.wallboard import agent_row
from ivr import messages as sm


@pytest.fixture
async def srv(tmp_path: Path) -> AsyncIterator[Server]:
    async for s in running(tmp_path):
        yield s


async def refused(client: AdminClient, kind: str, **fields: Any) -> AdminError:
    with pytest.raises(AdminError) as err:
        await client.request(kind, **fields)
    return err.value


async def sign_in_ready(srv: Server, *agents: str) -> None:
    for a in agents:
        await srv.desk(a)


async def state_push(desk: Any, state: str) -> am.StateChanged:
    """The desktop's next `state` push that shows `state`."""
    while True:
        push: am.StateChanged = await desk.next_push(am.StateChanged)
        if push.state == state:
            return push


def pairs(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["action"], r["result"]) for r in rows]


# ------------------------------------------------------------------------------ sign-in


async def test_sign_in_good_bad_agent_and_throttled(srv: Server) -> None:
    sup = await srv.client("sup-a")
    assert sup.profile["role"] == "supervisor"
    assert sup.profile["groups"] == ["vip"] and sup.profile["teams"] == ["ta"]
    await sup.close()
    boss = await srv.client("boss")
    assert boss.profile["role"] == "admin" and boss.profile["groups"] == ["vip", "gen"]
    await boss.close()

    c = await AdminClient.connect(srv.url)
    assert (await refused(c, "snapshot")).code == "unauthenticated"
    assert (await refused(c, "sign_in", user="sup-a", secret="nope")).code == "unauthenticated"
    assert (await refused(c, "sign_in", user="ghost", secret="x")).code == "unauthenticated"
    # an agent's right secret is refused here
    err = await refused(c, "sign_in", user="a1", secret="pw-a1")
    assert err.code == "forbidden" and "/agent" in err.message
    # third failure for sup-a locks it (max_failures 3), even with the right secret
    await refused(c, "sign_in", user="sup-a", secret="nope2")
    assert (await refused(c, "sign_in", user="sup-a", secret="nope3")).code == "unauthenticated"
    err = await refused(c, "sign_in", user="sup-a", secret="pw-sup-a")
    assert err.code == "rate_limited" and err.details["retry_after"] > 0
    await c.close()

    rows = await srv.audit("--action", "sign_in")  # `acd audit` on the server's journal
    results = [(e["who"], e["result"]) for e in rows]
    assert ("sup-a", "ok") in results and ("boss", "ok") in results
    assert ("a1", "forbidden") in results and ("ghost", "unauthenticated") in results
    assert ("sup-a", "rate_limited") in results
    assert all("secret" not in e["params"] for e in rows)
    # no secret anywhere in the store, tried or right
    await srv.journal.barrier()
    stored = b"".join(p.read_bytes() for p in srv.data_dir.iterdir() if p.is_file())
    for secret in (b"pw-sup-a", b"nope2", b"pw-a1", b"pw-boss"):
        assert secret not in stored


async def test_hello_first_and_bad_frames(srv: Server) -> None:
    ws = await AdminClient.connect(srv.url)  # says hello
    await ws.send_raw("{not json")
    push = await ws.next_push()
    assert push["code"] == "bad_frame"
    err = await refused(ws, "frobnicate")
    assert err.code == "unknown_type"
    err = await refused(ws, "hello", version=99)
    assert err.code == "unsupported_version"
    await ws.close()
    # binary (MessagePack) sessions speak the same messages
    sup = await srv.client("sup-b", binary=True)
    snap = await sup.request("snapshot")
    assert list(snap["groups"]) == ["gen"]
    await sup.close()


# ------------------------------------------------------------------------------ authorization


async def test_supervisor_of_team_a_cannot_touch_team_b(srv: Server) -> None:
    await sign_in_ready(srv, "a1", "a2")
    a2 = srv.desks["a2"]
    a2.drain()
    sup = await srv.client("sup-a")
    before = len(srv.outputs)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("force_not_ready", {"agent_id": "a2", "reason": "break"}),
        ("force_ready", {"agent_id": "a2"}),
        ("force_logout", {"agent_id": "a2"}),
        ("set_skills", {"agent_id": "a2", "skills": {"vip": 9}}),
        ("send_message", {"agents": ["a2"], "text": "hi"}),
        ("send_message", {"team": "tb", "text": "hi"}),
        ("send_message", {"group": "gen", "text": "hi"}),
        ("pause_group", {"group": "gen"}),
        ("reload", {}),
        ("add_block", {"rule": {"pattern": "13800000000", "reason": "abuse", "seconds": 60}}),
        ("list_blocks", {}),
    ]  # fmt: skip
    for kind, fields in attempts:
        err = await refused(sup, kind, **fields)
        assert err.code == "forbidden", (kind, err)
    assert srv.outputs[before:] == []  # nothing changed in the core
    assert srv.engine_state("a2") == ("ready", "")
    await asyncio.sleep(0.1)
    assert a2.drain() == []  # a2's desktop saw nothing
    assert srv.app.component("switch").blocks() == []  # type: ignore[union-attr]
    refusals = [e for e in await srv.audit("--who", "sup-a") if e["action"] != "sign_in"]
    assert pairs(refusals) == [(k, "forbidden") for k, _ in attempts]
    assert refusals[0]["target"] == "agent:a2" and refusals[0]["params"]["reason"] == "break"
    assert refusals[0]["role"] == "supervisor"
    await sup.close()


async def test_calls_out_of_scope_are_forbidden(srv: Server) -> None:
    await srv.call("c-gen", "gen")
    a1 = await srv.desk("a1")
    sup = await srv.client("sup-a")
    for kind, fields in [
        ("assign_call", {"call_id": "c-gen", "agent_id": "a1"}),
        ("set_priority", {"call_id": "c-gen", "priority": 150}),
        ("move_call", {"call_id": "c-gen", "group": "vip"}),
        ("withdraw_call", {"call_id": "c-gen", "to": "callback"}),
        ("supervise", {"call_id": "c-gen", "mode": "monitor", "endpoint": "sip:sup-a"}),
    ]:
        assert (await refused(sup, kind, **fields)).code == "forbidden", kind
    call = srv.app.engine.calls["c-gen"]
    assert call.group == "gen" and call.assigned_to is None
    assert "supervise" not in srv.switch.commands
    # a call of its own group cannot be moved into a group outside its scope
    await a1.sign_out()
    await srv.call("c-vip", "vip")
    err = await refused(sup, "move_call", call_id="c-vip", group="gen")
    assert err.code == "forbidden"
    assert srv.app.engine.calls["c-vip"].group == "vip"
    snap = await sup.request("snapshot")
    assert [c["id"] for c in snap["calls"]] == ["c-vip"]
    assert set(snap["agents"]) == {"a1", "a4"}
    await sup.close()


# ------------------------------------------------------------------------------ agent actions


async def test_forced_states_reach_the_desktop_with_the_actor(srv: Server) -> None:
    a1 = await srv.desk("a1")
    sup = await srv.client("sup-a")
    r = await sup.request("force_not_ready", agent_id="a1", reason="break")
    assert r == {"state": "not_ready", "reason": "break", "pending": None, "pending_reason": "",
                 "deferred": False, "waits_for": [], "call_id": None}  # fmt: skip
    push = await state_push(a1, "not_ready")
    assert (push.reason, push.actor) == ("break", "sup-a")
    r = await sup.request("force_ready", agent_id="a1")
    assert r["state"] == "ready"
    assert (await state_push(a1, "ready")).actor == "sup-a"
    err = await refused(sup, "force_not_ready", agent_id="a1", reason="nap")
    assert err.code == "unknown_reason"
    oks = pairs([e for e in await srv.audit("--who", "sup-a") if e["action"] != "sign_in"])
    assert oks == [("force_not_ready", "ok"), ("force_ready", "ok"),
                   ("force_not_ready", "unknown_reason")]  # fmt: skip
    await sup.close()


async def test_forced_sign_out_waits_for_the_call_and_wrap_up(srv: Server) -> None:
    a1 = await srv.desk("a1")
    c1 = await srv.connected("a1", "c1", "vip")
    sup = await srv.client("sup-a")
    r = await sup.request("force_logout", agent_id="a1")
    assert r == {"state": "on_call", "reason": "", "pending": "logged_out",
                 "pending_reason": "logout", "deferred": True,
                 "waits_for": ["call_end", "wrap_up"], "call_id": "c1"}  # fmt: skip
    pending = await a1.next_push(am.StateChanged)
    assert (pending.state, pending.pending, pending.actor) == ("on_call", "logged_out", "sup-a")
    srv.switch.hang_up(c1)  # the caller hangs up on the switch
    assert (await a1.next_push(am.CallEnded)).call_id == "c1"
    await state_push(a1, "wrap_up")  # call work includes wrap-up: still signed in
    a = srv.app.engine.agents["a1"]
    assert (a.pending, a.pending_actor) == (AgentState.LOGGED_OUT, "sup-a")
    await a1.finish_wrap_up()
    out = await state_push(a1, "logged_out")  # the change reaches the desktop...
    assert out.actor == "sup-a"
    assert a1.closed is not None
    assert await asyncio.wait_for(a1.closed, 5) == (4003, "signed out by sup-a")  # ...then close
    last = srv.changes("a1")[-1]
    assert (last.new, last.actor) == (AgentState.LOGGED_OUT, "sup-a")
    gateway: Any = srv.app.component("agents")
    assert "a1" not in gateway.signed_in()
    await sup.close()


async def test_forced_sign_out_of_an_idle_agent_closes_its_desktop(srv: Server) -> None:
    a4 = await srv.desk("a4")
    boss = await srv.client("boss")
    r = await boss.request("force_logout", agent_id="a4")
    assert r["state"] == "logged_out" and not r["deferred"] and r["waits_for"] == []
    pushes: list[am.Push] = []
    assert a4.closed is not None
    code = await asyncio.wait_for(a4.closed, 5)
    pushes = a4.drain()
    states = [p for p in pushes if isinstance(p, am.StateChanged)]
    assert (states[-1].state, states[-1].actor) == ("logged_out", "boss")
    assert code == (4003, "signed out by boss")
    assert pairs(await srv.audit("--who", "boss", "--action", "force_logout")) == [
        ("force_logout", "ok")
    ]
    await boss.close()


async def test_skills_live_and_messages(srv: Server) -> None:
    a2 = await srv.desk("a2")
    sup = await srv.client("sup-b")
    r = await sup.request("set_skills", agent_id="a3", skills={"gen": 8, "vip": 5})
    assert r["skills"] == {"gen": 8, "vip": 5}
    skills = [o for o in srv.outputs if isinstance(o, ev.AgentSkillsChanged)][-1]
    assert skills.actor == "sup-b" and skills.agent_id == "a3"
    assert "vip" in srv.app.engine.agents["a3"].members
    err = await refused(sup, "set_skills", agent_id="a3", skills={"gen": 99})
    assert err.code == "wrong_state"  # the core's check: levels are 0..10
    # a3 has no desktop: one of the team's two agents receives it
    r = await sup.request("send_message", team="tb", text="Team huddle at 3")
    assert r == {"recipients": 2, "delivered": 1}
    msg = await a2.next_push(am.Message)
    assert (msg.sender, msg.text) == ("sup-b", "Team huddle at 3")
    r = await sup.request("send_message", agents=["a2"], text="see me")
    assert r == {"recipients": 1, "delivered": 1}
    assert (await a2.next_push(am.Message)).text == "see me"
    assert (await refused(sup, "send_message", text="x")).code == "bad_message"
    rows = await srv.audit("--who", "sup-b", "--action", "send_message")
    assert pairs(rows) == [("send_message", "ok")] * 2 + [("send_message", "bad_message")]
    assert rows[0]["target"] == "team:tb" and rows[1]["target"] == "agents:a2"
    await sup.close()


# ------------------------------------------------------------------------------ queue actions


async def test_assign_a_waiting_call_to_a_named_agent(srv: Server) -> None:
    a1 = await srv.desk("a1", ready=False)
    a4 = await srv.desk("a4", ready=False)  # both signed in, not ready: the call waits
    await srv.call("c1", "vip")
    sup = await srv.client("sup-a")
    r = await sup.request("assign_call", call_id="c1", agent_id="a4")
    assert r == {"call_id": "c1", "agent_id": "a4", "offered": False}
    await a1.ready()  # a1 is free first, but the call is a4's
    assert srv.app.engine.calls["c1"].agent is None
    await sup.request("force_ready", agent_id="a4")
    offer = await a4.next_push(am.Offer)
    assert (offer.call_id, offer.assigned_by) == ("c1", "sup-a")
    assigned = [o for o in srv.outputs if isinstance(o, ev.CallAssigned)][-1]
    assert assigned.actor == "sup-a"
    assert not any(isinstance(p, am.Offer) for p in a1.drain())
    err = await refused(sup, "assign_call", call_id="c1", agent_id="a4")
    assert err.code == "wrong_state"  # ringing at a4 already
    # a4 does not answer: the supervisor takes the ringing call back and gives it to a1
    r = await sup.request("assign_call", call_id="c1", agent_id="a1")
    assert r == {"call_id": "c1", "agent_id": "a1", "offered": True}
    ended = await a4.next_push(am.OfferEnded)
    assert (ended.call_id, ended.result, ended.reason) == ("c1", "withdrawn", "supervisor")
    assert (await a1.next_push(am.Offer)).call_id == "c1"
    assert srv.app.engine.agents["a4"].state is AgentState.READY  # nothing missed
    rows = await srv.audit("--who", "sup-a", "--action", "assign_call")
    assert pairs(rows) == [("assign_call", "ok"), ("assign_call", "wrong_state"),
                           ("assign_call", "ok")]  # fmt: skip
    await sup.close()


async def test_priority_move_withdraw(srv: Server) -> None:
    await srv.call("c1", "vip")
    c2 = await srv.call("c2", "vip")
    sup = await srv.client("sup-a")
    assert (await sup.request("set_priority", call_id="c2", priority=150))["priority"] == 150
    changed = [o for o in srv.outputs if isinstance(o, ev.CallPriorityChanged)][-1]
    assert changed.actor == "sup-a"
    boss = await srv.client("boss")
    assert (await boss.request("move_call", call_id="c1", group="gen"))["group"] == "gen"
    moved = [o for o in srv.outputs if isinstance(o, ev.CallOverflowed)][-1]
    assert (moved.to_group, moved.actor) == ("gen", "boss")
    assert (await sup.request("withdraw_call", call_id="c2", to="voicemail"))["to"] == "voicemail"
    # the switch records the voicemail and the caller's call ends there
    await until(lambda: c2.state == "ended")
    assert c2.end_reason == "voicemail"
    assert (await refused(sup, "set_priority", call_id="zzz", priority=1)).code == "unknown_call"
    await sup.close()
    await boss.close()


async def test_pause_and_resume_a_group(srv: Server) -> None:
    sup = await srv.client("sup-b")
    await srv.call("c-in", "gen")
    assert await sup.request("pause_group", group="gen") == {"group": "gen", "paused": True}
    c_new = await srv.switch.place("13900000009", "200", "c-new")
    blocked = [o for o in srv.outputs if isinstance(o, ev.CallBlocked)]
    assert [(b.call_id, b.reason) for b in blocked] == [("c-new", "paused")]
    await until(lambda: c_new.state == "ended")  # the switch was told to end it
    assert "c-in" in srv.app.engine.calls  # draining: calls in it are still served
    a2 = await srv.desk("a2")
    assert (await a2.next_push(am.Offer)).call_id == "c-in"
    assert (await refused(sup, "pause_group", group="gen")).code == "wrong_state"
    await sup.request("resume_group", group="gen")
    await srv.call("c-later", "gen")
    paused = [(o.paused, o.actor) for o in srv.outputs if isinstance(o, ev.GroupPaused)]
    assert paused == [(True, "sup-b"), (False, "sup-b")]
    await sup.close()


# ------------------------------------------------------------------------------ call actions


async def test_monitor_whisper_barge_stop_on_the_switch_and_the_desktop(srv: Server) -> None:
    a1 = await srv.desk("a1")
    await srv.connected("a1", "c1", "vip")
    seen: list[sm.Supervise] = []
    srv.switch.on_command = lambda c, cmd: (
        seen.append(cmd) if isinstance(cmd, sm.Supervise) else None
    )
    sup = await srv.client("sup-a")
    for mode in ("monitor", "whisper", "barge", "stop"):
        r = await sup.request("supervise", call_id="c1", mode=mode, endpoint="sip:sup-a@desk")
        assert r == {"call_id": "c1", "mode": mode, "agents_told": ["a1"]}
        cmd = seen[-1]  # the switch got the command (and acknowledged it: the reply came)
        assert (cmd.call_id, cmd.mode, cmd.supervisor) == ("c1", mode, "sup-a")
        notice = await a1.next_push(am.Notice)
        assert (notice.kind, notice.supervisor, notice.call_id) == (mode, "sup-a", "c1")
    assert [c.endpoint for c in seen[:3]] == ["sip:sup-a@desk"] * 3
    assert (await refused(sup, "supervise", call_id="c1", mode="barge")).code == "bad_message"
    # not a request at all (no such mode): a frame error, not an action to audit
    assert (await refused(sup, "supervise", call_id="c1", mode="yell")).code == "bad_message"
    # the switch's own refusal comes back with the link's code; the agent is not told
    srv.switch.refuse.add("supervise")
    boss = await srv.client("boss")
    err = await refused(boss, "supervise", call_id="c1", mode="barge", endpoint="sip:boss")
    assert err.code == "switch_error"
    srv.switch.refuse.clear()
    await asyncio.sleep(0.05)
    assert not any(isinstance(p, am.Notice) for p in a1.drain())
    rows = await srv.audit("--action", "supervise")
    assert [(e["who"], e["params"]["mode"], e["result"]) for e in rows] == [
        ("sup-a", "monitor", "ok"), ("sup-a", "whisper", "ok"), ("sup-a", "barge", "ok"),
        ("sup-a", "stop", "ok"), ("sup-a", "barge", "bad_message"),
        ("boss", "barge", "switch_error"),
    ]  # fmt: skip
    assert rows[2]["target"] == "call:c1"
    await sup.close()
    await boss.close()


async def test_intercept_ends_the_call_in_the_core_and_at_the_desktop(srv: Server) -> None:
    a1 = await srv.desk("a1")
    c1 = await srv.connected("a1", "c1", "vip")
    sup = await srv.client("sup-a")
    r = await sup.request("supervise", call_id="c1", mode="intercept", endpoint="sip:sup-a@desk")
    assert r == {"call_id": "c1", "mode": "intercept", "agents_told": ["a1"]}
    assert srv.switch.commands.get("supervise") == 1
    ended = [o for o in srv.outputs if isinstance(o, ev.CallEnded) and o.call_id == "c1"]
    assert [e.cause for e in ended] == [ev.EndCause.INTERCEPTED]
    assert "c1" not in srv.app.engine.calls
    gone = await a1.next_push(am.CallEnded)
    assert (gone.call_id, gone.cause, gone.by) == ("c1", "intercepted", "sup-a")
    await state_push(a1, "wrap_up")  # the agent's part ended: after-call work
    notice = await a1.next_push(am.Notice)
    assert (notice.kind, notice.supervisor, notice.call_id) == ("intercept", "sup-a", "c1")
    # the supervisor holds the caller on the switch now: no hangup was sent for it
    assert c1.state == "connected" and "hangup" not in srv.switch.commands
    assert (await refused(sup, "supervise", call_id="c1", mode="stop")).code == "unknown_call"
    call = await srv.journal_call("c1")
    assert call is not None and call.cause == "intercepted"
    await sup.close()


# ------------------------------------------------------------------------------ admin actions


async def test_reload_and_caller_blocks_are_admin_only_and_audited(srv: Server) -> None:
    sup = await srv.client("sup-a")
    for kind, fields in [
        ("reload", {}),
        ("add_block", {"rule": {"pattern": "1380013*", "reason": "abuse", "seconds": 60}}),
        ("list_blocks", {}),
    ]:
        assert (await refused(sup, kind, **fields)).code == "forbidden"
    boss = await srv.client("boss")
    version = srv.app.settings.center.version
    assert await boss.request("reload") == {"version": version}
    rule = {"pattern": "1380013*", "reason": "abusive caller", "seconds": 3600}
    added = await boss.request("add_block", rule=rule)
    assert added["pattern"] == "1380013*" and added["reason"] == "abusive caller"
    assert added["actor"] == "boss"
    assert [r["pattern"] for r in await boss.request("list_blocks")] == ["1380013*"]
    # the switch link applies it: a call from that number is refused at the switch
    result = await srv.switch.request(sm.Arrived(0, "c-bad", "13800131234", "100", "", None))
    assert result == {"blocked": "abusive caller"}
    assert "c-bad" not in srv.app.engine.calls
    no_expiry = {"pattern": "139*", "reason": "x"}
    assert (await refused(boss, "add_block", rule=no_expiry)).code == "bad_block"
    removed = await boss.request("remove_block", rule={"pattern": "1380013*"})
    assert removed["pattern"] == "1380013*"
    assert await boss.request("list_blocks") == []
    assert (await refused(boss, "remove_block", rule={"pattern": "1380013*"})).code != "ok"
    rows = [e for e in await srv.audit("--who", "boss") if e["action"] != "sign_in"]
    assert pairs(rows)[:5] == [("reload", "ok"), ("add_block", "ok"), ("list_blocks", "ok"),
                               ("add_block", "bad_block"), ("remove_block", "ok")]  # fmt: skip
    assert rows[1]["target"] == "caller:1380013*"
    assert rows[1]["params"]["rule"]["reason"] == "abusive caller"
    sup_rows = pairs([e for e in await srv.audit("--who", "sup-a") if e["action"] != "sign_in"])
    assert sup_rows == [("reload", "forbidden"), ("add_block", "forbidden"),
                        ("list_blocks", "forbidden")]  # fmt: skip
    await sup.close()
    await boss.close()


async def test_sides_not_running_are_unavailable(tmp_path: Path) -> None:
    only = ["acd.journal:component", "agent_gateway.admin:component"]
    async for srv in running(tmp_path, components=only):
        srv.submit(ev.AgentLogin("a1"))
        srv.submit(ev.AgentReady("a1"))
        srv.submit(ev.EnqueueCall(ev.CallInfo(id="c1"), "vip"))
        srv.submit(ev.AcceptOffer("a1", "c1"))
        srv.submit(ev.AgentLegAnswered("c1", "a1"))
        boss = await srv.client("boss")
        for kind, fields in [
            ("supervise", {"call_id": "c1", "mode": "barge", "endpoint": "sip:boss"}),
            ("list_blocks", {}),
            ("send_message", {"team": "ta", "text": "hello"}),
        ]:
            assert (await refused(boss, kind, **fields)).code == "unavailable", kind
        rows = [e for e in await srv.audit("--who", "boss") if e["action"] != "sign_in"]
        assert [e["result"] for e in rows] == ["unavailable"] * 3
        await boss.close()


# ------------------------------------------------------------------------------ wallboard


async def test_wallboard_snapshot_then_coalesced_deltas(srv: Server) -> None:
    await sign_in_ready(srv, "a1", "a2")
    sup = await srv.client("sup-a")
    assert await sup.request("subscribe") == {"period": 0.5}
    snap = await sup.next_push()
    assert snap["type"] == "wallboard" and snap["seq"] == 1
    assert list(snap["groups"]) == ["vip"] and set(snap["agents"]) == {"a1", "a4"}
    vip = snap["groups"]["vip"]
    assert vip["waiting"] == 0 and vip["agents"] == {"ready": 1} and vip["staffed"] == 1
    assert (
        snap["agents"]["a1"]["state"] == "ready" and snap["agents"]["a4"]["state"] == "logged_out"
    )

    # A burst of changes: 3 calls arrive while a4 flips state 120 times.
    feed = srv.app.components["admin"].feed  # type: ignore[attr-defined]
    flushes_before = feed.core.flushes
    srv.submit(ev.AgentLogin("a4"))
    for i in range(60):
        srv.submit(ev.AgentNotReady("a4", "break"))
        srv.submit(ev.AgentReady("a4"))
        if i % 20 == 0:
            srv.switch.new_call(f"1390000{i:04d}", "100", f"b{i}")
        await asyncio.sleep(0.005)
    srv.submit(ev.AgentNotReady("a4", "lunch"))
    srv.switch.new_call("13900000001", "200", "g1")  # out of scope: not a reason to push
    deltas: list[dict[str, Any]] = []
    while True:
        try:
            deltas.append(await sup.next_push(timeout=1.5))
        except TimeoutError:
            break
    flushes = feed.core.flushes - flushes_before
    assert deltas and all(d["type"] == "wallboard_delta" for d in deltas)
    assert [d["seq"] for d in deltas] == list(range(2, 2 + len(deltas)))
    assert len(deltas) <= flushes  # one delta per flush at most, flushes >= 0.5 s apart
    assert len(deltas) < 20  # hundreds of core changes were coalesced
    stamps = [d["at"] for d in deltas]
    assert all(b - a >= 0.5 - 1e-6 for a, b in itertools.pairwise(stamps))
    # merged, the deltas bring the board to the core's state
    board = {aid: row for d in deltas for aid, row in d["agents"].items()}
    for aid in ("a1", "a4"):
        now = agent_row(srv.app.engine.agents[aid])
        assert {k: board[aid][k] for k in now} == now
    assert board["a4"]["pending"] == "not_ready"  # a4 took a call: "lunch" waits for its end
    assert "a2" not in board and all("gen" not in d["groups"] for d in deltas)
    last_vip = [d["groups"]["vip"] for d in deltas if "vip" in d["groups"]][-1]
    assert last_vip["waiting"] == len(srv.app.engine.groups["vip"].home)
    await sup.request("unsubscribe")
    assert feed.subscribers == 0
    await sup.close()


async def test_wallboard_json_and_msgpack_subscribers_share_a_flush(srv: Server) -> None:
    a = await srv.client("sup-a")
    b = await srv.client("sup-a", binary=True)
    boss = await srv.client("boss")
    for c in (a, b, boss):
        await c.request("subscribe")
        await c.next_push()
    await srv.desk("a1", ready=False)
    da, db, dboss = (await a.next_push()), (await b.next_push()), (await boss.next_push())
    assert da["agents"] == db["agents"] and da["at"] == db["at"]
    assert da["agents"]["a1"]["state"] == "not_ready"
    assert dboss["agents"]["a1"] == da["agents"]["a1"]
    assert msgspec.json.encode(dboss["groups"]["vip"]) == msgspec.json.encode(da["groups"]["vip"])
    for c in (a, b, boss):
        await c.close()


# ------------------------------------------------------------------------------ terminal


async def test_acd_wallboard_once_signs_in_with_the_env_secret(
    srv: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from rich.console import Console

    from acd.cli import build_parser
    from agent_gateway.wallboard_tui import main as wallboard

    await sign_in_ready(srv, "a1")
    await srv.call("c1", "gen")
    args = build_parser().parse_args(["wallboard", "--url", srv.url, "--user", "sup-b", "--once"])
    monkeypatch.setenv("ACD_SECRET", "pw-sup-b")
    out = io.StringIO()
    console = Console(file=out, width=140, color_system=None)
    assert await asyncio.to_thread(wallboard, args, console) == 0
    text = out.getvalue()
    assert "B lead (supervisor)" in text and "gen" in text and "vip" not in text
    assert "a2" in text and "a3" in text and "a1" not in text  # a1 is team A's
    monkeypatch.setenv("ACD_SECRET", "wrong")
    out.truncate(0)
    assert await asyncio.to_thread(wallboard, args, console) == 1
    assert "unauthenticated" in out.getvalue()


async def test_an_assigned_call_still_counts_as_waiting(srv: Server) -> None:
    await srv.desk("a4", ready=False)
    await srv.call("c1", "vip")
    sup = await srv.client("sup-a")
    await sup.request("assign_call", call_id="c1", agent_id="a4")
    snap = await sup.request("snapshot")
    assert snap["groups"]["vip"]["waiting"] == 1 and snap["groups"]["vip"]["assigned"] == 1
    call = next(c for c in snap["calls"] if c["id"] == "c1")
    assert call["phase"] == "assigned" and call["assigned_to"] == "a4"
    await sup.close()
