"""The /admin socket end to end: a real server on 127.0.0.1 and real websocket clients."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from admin_harness import Server, running
from core_harness import info

from acd import events as ev
from acd.app import App
from acd.states import AgentState
from agent_gateway.admin_client import AdminClient, AdminError
from agent_gateway.wallboard import agent_row


@pytest.fixture
async def srv(tmp_path: Any) -> AsyncIterator[Server]:
    async for s in running(tmp_path):
        yield s


async def refused(client: AdminClient, kind: str, **fields: Any) -> AdminError:
    with pytest.raises(AdminError) as err:
        await client.request(kind, **fields)
    return err.value


def sign_in_ready(srv: Server, *agents: str) -> None:
    for a in agents:
        srv.submit(ev.AgentLogin(a))
        srv.submit(ev.AgentReady(a))


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
    assert (await refused(c, "sign_in", user="sup-a", secret="nope3")).code == "rate_limited"
    err = await refused(c, "sign_in", user="sup-a", secret="pw-sup-a")
    assert err.code == "rate_limited" and err.details["retry_after"] > 0
    await c.close()

    results = [(e["who"], e["result"]) for e in srv.journal.of("sign_in")]
    assert ("sup-a", "ok") in results and ("boss", "ok") in results
    assert ("a1", "forbidden") in results and ("ghost", "unauthenticated") in results
    assert ("sup-a", "rate_limited") in results
    assert all("secret" not in e["params"] for e in srv.journal.entries)


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
    sign_in_ready(srv, "a1", "a2")
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
    assert srv.desks.messages == [] and srv.switch.rules == []
    refusals = [e for e in srv.journal.entries if e["who"] == "sup-a" and e["action"] != "sign_in"]
    assert [(e["action"], e["result"]) for e in refusals] == [(k, "forbidden") for k, _ in attempts]
    assert refusals[0]["target"] == "agent:a2" and refusals[0]["params"]["reason"] == "break"
    assert refusals[0]["role"] == "supervisor"
    await sup.close()


async def test_calls_out_of_scope_are_forbidden(srv: Server) -> None:
    srv.submit(ev.EnqueueCall(info("c-gen"), "gen"))
    sign_in_ready(srv, "a1")
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
    assert call.group == "gen" and call.assigned_to is None and srv.switch.legs == []
    # a call of its own group cannot be moved into a group outside its scope
    srv.submit(ev.AgentLogout("a1"))
    srv.submit(ev.EnqueueCall(info("c-vip"), "vip"))
    err = await refused(sup, "move_call", call_id="c-vip", group="gen")
    assert err.code == "forbidden"
    assert srv.app.engine.calls["c-vip"].group == "vip"
    snap = await sup.request("snapshot")
    assert [c["id"] for c in snap["calls"]] == ["c-vip"]
    assert set(snap["agents"]) == {"a1", "a4"}
    await sup.close()


# ------------------------------------------------------------------------------ agent actions


async def test_forced_states_carry_the_actor(srv: Server) -> None:
    sign_in_ready(srv, "a1")
    sup = await srv.client("sup-a")
    r = await sup.request("force_not_ready", agent_id="a1", reason="break")
    assert r == {"state": "not_ready", "reason": "break", "pending": None,
                 "pending_reason": "", "deferred": False}  # fmt: skip
    last = srv.changes("a1")[-1]
    assert (last.new, last.reason, last.actor) == (AgentState.NOT_READY, "break", "sup-a")
    r = await sup.request("force_ready", agent_id="a1")
    assert r["state"] == "ready" and srv.changes("a1")[-1].actor == "sup-a"
    err = await refused(sup, "force_not_ready", agent_id="a1", reason="nap")
    assert err.code == "unknown_reason"
    # logout while on a call is deferred until the call work ends, and said so
    srv.submit(ev.EnqueueCall(info("c1"), "vip"))
    srv.submit(ev.AcceptOffer("a1", "c1"))
    srv.submit(ev.AgentLegAnswered("c1", "a1"))
    r = await sup.request("force_logout", agent_id="a1")
    assert r["deferred"] is True and r["state"] == "on_call" and r["pending"] == "logged_out"
    assert srv.app.engine.agents["a1"].pending_actor == "sup-a"
    srv.submit(ev.CallerHangup("c1"))
    assert srv.engine_state("a1") == ("wrap_up", "")  # call work includes wrap-up
    srv.submit(ev.FinishWrapUp("a1"))
    last = srv.changes("a1")[-1]
    assert (last.new, last.actor) == (AgentState.LOGGED_OUT, "sup-a")
    await asyncio.sleep(0.05)  # the disconnect is asked for after the change is pushed
    assert srv.desks.kicked == [("a1", "signed out by sup-a")]
    oks = [(e["action"], e["result"]) for e in srv.journal.entries if e["who"] == "sup-a"]
    assert oks[1:] == [("force_not_ready", "ok"), ("force_ready", "ok"),
                       ("force_not_ready", "unknown_reason"), ("force_logout", "ok")]  # fmt: skip
    await sup.close()


async def test_skills_live_and_messages(srv: Server) -> None:
    sign_in_ready(srv, "a2", "a3")
    sup = await srv.client("sup-b")
    r = await sup.request("set_skills", agent_id="a3", skills={"gen": 8, "vip": 5})
    assert r["skills"] == {"gen": 8, "vip": 5}
    skills = [o for o in srv.outputs if isinstance(o, ev.AgentSkillsChanged)][-1]
    assert skills.actor == "sup-b" and skills.agent_id == "a3"
    assert "vip" in srv.app.engine.agents["a3"].members
    err = await refused(sup, "set_skills", agent_id="a3", skills={"gen": 99})
    assert err.code == "wrong_state"  # the core's check: levels are 0..10
    srv.desks.online = {"a2"}
    r = await sup.request("send_message", team="tb", text="Team huddle at 3")
    assert r == {"recipients": 2, "delivered": 1}
    assert srv.desks.messages[-1] == (["a2", "a3"], "sup-b", "Team huddle at 3")
    r = await sup.request("send_message", agents=["a3"], text="see me")
    assert r["recipients"] == 1
    assert (await refused(sup, "send_message", text="x")).code == "bad_message"
    await sup.close()


# ------------------------------------------------------------------------------ queue actions


async def test_assign_a_waiting_call_to_a_named_agent(srv: Server) -> None:
    srv.submit(ev.AgentLogin("a1"))
    srv.submit(ev.AgentLogin("a4"))  # both signed in, not ready: the call waits
    srv.submit(ev.EnqueueCall(info("c1"), "vip"))
    sup = await srv.client("sup-a")
    r = await sup.request("assign_call", call_id="c1", agent_id="a4")
    assert r == {"call_id": "c1", "agent_id": "a4", "offered": False}
    srv.submit(ev.AgentReady("a1"))  # a1 is free first, but the call is a4's
    assert srv.app.engine.calls["c1"].agent is None
    r = await sup.request("force_ready", agent_id="a4")
    offer = [o for o in srv.outputs if isinstance(o, ev.CallOffered)][-1]
    assert (offer.call_id, offer.agent_id, offer.assigned_by) == ("c1", "a4", "sup-a")
    assigned = [o for o in srv.outputs if isinstance(o, ev.CallAssigned)][-1]
    assert assigned.actor == "sup-a"
    err = await refused(sup, "assign_call", call_id="c1", agent_id="a1")
    assert err.code == "wrong_state"  # ringing now, no longer waiting
    await sup.close()


async def test_priority_move_withdraw(srv: Server) -> None:
    srv.submit(ev.EnqueueCall(info("c1"), "vip"))
    srv.submit(ev.EnqueueCall(info("c2"), "vip"))
    sup = await srv.client("sup-a")
    assert (await sup.request("set_priority", call_id="c2", priority=150))["priority"] == 150
    changed = [o for o in srv.outputs if isinstance(o, ev.CallPriorityChanged)][-1]
    assert changed.actor == "sup-a"
    boss = await srv.client("boss")
    assert (await boss.request("move_call", call_id="c1", group="gen"))["group"] == "gen"
    moved = [o for o in srv.outputs if isinstance(o, ev.CallOverflowed)][-1]
    assert (moved.to_group, moved.actor) == ("gen", "boss")
    assert (await sup.request("withdraw_call", call_id="c2", to="voicemail"))["to"] == "voicemail"
    assert any(isinstance(o, ev.RecordVoicemail) and o.call_id == "c2" for o in srv.outputs)
    assert (await refused(sup, "withdraw_call", call_id="c2", to="callback")).code == "wrong_state"
    assert (await refused(sup, "set_priority", call_id="zzz", priority=1)).code == "unknown_call"
    await sup.close()
    await boss.close()


async def test_pause_and_resume_a_group(srv: Server) -> None:
    sup = await srv.client("sup-b")
    srv.submit(ev.EnqueueCall(info("c-in"), "gen"))
    assert await sup.request("pause_group", group="gen") == {"group": "gen", "paused": True}
    srv.submit(ev.EnqueueCall(info("c-new"), "gen"))
    blocked = [o for o in srv.outputs if isinstance(o, ev.CallBlocked)]
    assert [(b.call_id, b.reason) for b in blocked] == [("c-new", "paused")]
    assert "c-in" in srv.app.engine.calls  # draining: calls in it are still served
    sign_in_ready(srv, "a2")
    assert srv.app.engine.calls["c-in"].agent is not None
    assert (await refused(sup, "pause_group", group="gen")).code == "wrong_state"
    await sup.request("resume_group", group="gen")
    srv.submit(ev.EnqueueCall(info("c-later"), "gen"))
    assert "c-later" in srv.app.engine.calls
    paused = [(o.paused, o.actor) for o in srv.outputs if isinstance(o, ev.GroupPaused)]
    assert paused == [(True, "sup-b"), (False, "sup-b")]
    await sup.close()


# ------------------------------------------------------------------------------ call actions


async def test_monitor_whisper_barge_intercept_stop(srv: Server) -> None:
    sign_in_ready(srv, "a1")
    srv.submit(ev.EnqueueCall(info("c1"), "vip"))
    srv.submit(ev.AcceptOffer("a1", "c1"))
    srv.submit(ev.AgentLegAnswered("c1", "a1"))
    sup = await srv.client("sup-a")
    for mode in ("monitor", "whisper", "barge", "intercept", "stop"):
        r = await sup.request("supervise", call_id="c1", mode=mode, endpoint="sip:sup-a@desk")
        assert r == {"call_id": "c1", "mode": mode}
    assert [leg[1] for leg in srv.switch.legs] == [
        "monitor",
        "whisper",
        "barge",
        "intercept",
        "stop",
    ]
    assert all(leg[2] == "sup-a" for leg in srv.switch.legs)
    assert (await refused(sup, "supervise", call_id="c1", mode="barge")).code == "bad_message"
    assert (await refused(sup, "supervise", call_id="c1", mode="yell")).code == "bad_message"
    # the switch's own refusal comes back with its code
    boss = await srv.client("boss")
    err = await refused(boss, "supervise", call_id="c1", mode="stop")
    assert err.code == "no_such_leg"
    barge = next(e for e in srv.journal.of("supervise") if e["params"]["mode"] == "barge")
    assert barge["target"] == "call:c1" and barge["result"] == "ok"
    assert srv.journal.of("supervise")[-1]["result"] == "no_such_leg"
    await sup.close()
    await boss.close()


async def test_admin_reload_and_blocks_on_the_real_switch_link(tmp_path: Any) -> None:
    from acd.settings import load_settings

    bundled = Path(__file__).resolve().parents[1] / "config" / "center.toml"
    settings = load_settings(bundled)
    app = App(settings, port=0, data_dir=tmp_path,
              components=["ivr.link:switch_link", "agent_gateway.admin:component"])  # fmt: skip
    await app.start()
    try:
        url = f"ws://127.0.0.1:{app.web.port}/admin"
        sup = await AdminClient.connect(url, "sup-mass", "demo-sup-mass")
        for kind, fields in [
            ("reload", {}),
            ("add_block", {"rule": {"pattern": "1380013*", "reason": "abuse", "seconds": 60}}),
            ("list_blocks", {}),
        ]:
            assert (await refused(sup, kind, **fields)).code == "forbidden"
        boss = await AdminClient.connect(url, "admin", "demo-admin")
        assert await boss.request("reload") == {"version": settings.center.version}
        rule = {"pattern": "1380013*", "reason": "abusive caller", "seconds": 3600}
        added = await boss.request("add_block", rule=rule)
        assert added["pattern"] == "1380013*" and added["reason"] == "abusive caller"
        assert [r["pattern"] for r in await boss.request("list_blocks")] == ["1380013*"]
        no_expiry = {"pattern": "139*", "reason": "x"}
        assert (await refused(boss, "add_block", rule=no_expiry)).code == "bad_block"
        await boss.request("remove_block", rule={"pattern": "1380013*"})
        assert await boss.request("list_blocks") == []
        await sup.close()
        await boss.close()
    finally:
        await app.stop()


async def test_sides_not_running_are_unavailable(tmp_path: Any) -> None:
    async for srv in running(tmp_path, with_sides=False):
        sign_in_ready(srv, "a1")
        srv.submit(ev.EnqueueCall(info("c1"), "vip"))
        srv.submit(ev.AcceptOffer("a1", "c1"))
        srv.submit(ev.AgentLegAnswered("c1", "a1"))
        boss = await srv.client("boss")
        for kind, fields in [
            ("supervise", {"call_id": "c1", "mode": "barge", "endpoint": "sip:boss"}),
            ("list_blocks", {}),
            ("send_message", {"team": "ta", "text": "hello"}),
        ]:
            assert (await refused(boss, kind, **fields)).code == "unavailable", kind
        assert [e["result"] for e in srv.journal.entries[1:]] == ["unavailable"] * 3
        await boss.close()


# ------------------------------------------------------------------------------ wallboard


async def test_wallboard_snapshot_then_coalesced_deltas(srv: Server) -> None:
    sign_in_ready(srv, "a1", "a2")
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
            srv.submit(ev.EnqueueCall(info(f"b{i}"), "vip"))
        await asyncio.sleep(0.005)
    srv.submit(ev.AgentNotReady("a4", "lunch"))
    srv.submit(ev.EnqueueCall(info("g1"), "gen"))  # out of scope: not a reason to push
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
    srv.submit(ev.AgentLogin("a1"))
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

    sign_in_ready(srv, "a1")
    srv.submit(ev.EnqueueCall(info("c1"), "gen"))
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
    srv.submit(ev.AgentLogin("a4"))
    srv.submit(ev.EnqueueCall(info("c1"), "vip"))
    sup = await srv.client("sup-a")
    await sup.request("assign_call", call_id="c1", agent_id="a4")
    snap = await sup.request("snapshot")
    assert snap["groups"]["vip"]["waiting"] == 1 and snap["groups"]["vip"]["assigned"] == 1
    call = next(c for c in snap["calls"] if c["id"] == "c1")
    assert call["phase"] == "assigned" and call["assigned_to"] == "a4"
    await sup.close()
