"""The agent protocol end to end: a real server on 127.0.0.1, real websocket clients."""

from __future__ import annotations

import asyncio

import pytest
from agent_fixture import call, desktop, make_settings, running, secret, switch_answers, url

from acd import events as ev
from agent_gateway import messages as m
from agent_gateway.client import AgentClient, RequestError


async def test_sign_in_ready_offer_accept_hangup_wrap_up_ready(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = AgentClient(url(app))
        hello = await c.connect()
        assert (hello.protocol, hello.version) == (m.PROTOCOL, m.VERSION)
        res = await c.sign_in("a1", secret("a1"))
        assert res.snapshot is not None and res.snapshot.state == "not_ready"
        assert [g.group for g in res.snapshot.groups] == ["g", "m", "n"]
        await c.ready()
        st = await c.next_push(m.StateChanged)
        assert (st.old, st.state) == ("not_ready", "ready")
        call(app, "c1", brand="vip", vip=2, city="nanjing", dialed="10086")
        offer = await c.next_push(m.Offer)
        assert offer.call_id == "c1" and offer.group == "g"
        pop = offer.screen
        assert (pop.brand, pop.vip, pop.city, pop.dialed) == ("vip", 2, "nanjing", "10086")
        assert pop.caller.startswith("138") and offer.ring_seconds == pytest.approx(5.0)
        await c.accept("c1")
        ended = await c.next_push(m.OfferEnded)
        assert ended.result == "accepted"
        switch_answers(app, "c1", "a1")
        conn = await c.next_push(m.CallChanged)
        assert (conn.event, conn.agents) == ("connected", ["a1"])
        snap = await c.snapshot()
        assert snap.state == "on_call" and [x.call_id for x in snap.calls] == ["c1"]
        await c.hangup("c1")  # becomes DropLeg for the switch; the switch confirms:
        app.core.submit(ev.AgentLegEnded("c1", "a1"))
        fin = await c.next_push(m.CallEnded)
        assert (fin.call_id, fin.cause, fin.by) == ("c1", "completed", "a1")
        wrap = await c.next_push(m.WrapUpStarted)
        assert wrap.mode == "timed" and wrap.deadline is not None
        await c.wrap_up_code("inquiry", finish=True)
        wend = await c.next_push(m.WrapUpEnded)
        assert wend.code == "inquiry"
        st = await c.next_push(m.StateChanged)
        assert st.state == "ready"
        today = (await c.snapshot()).today
        assert (today.offered, today.answered, today.handled) == (1, 1, 1)
        assert today.talk_seconds >= 0 and today.day
        await c.close()


async def test_json_text_frames_speak_the_same_protocol(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1", binary=False)
        await c.ready()
        call(app, "c1")
        offer = await c.next_push(m.Offer)
        await c.reject(offer.call_id)
        ended = await c.next_push(m.OfferEnded)
        assert ended.result == "rejected"
        await c.close()


async def test_bad_secret_unknown_agent_and_throttling(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    async with running(settings, tmp_path) as app:
        c = AgentClient(url(app))
        await c.connect()
        with pytest.raises(RequestError) as err:
            await c.sign_in("a1", "wrong")
        assert err.value.code == "bad_credentials"
        with pytest.raises(RequestError) as err:
            await c.sign_in("nobody", "x")
        assert err.value.code == "bad_credentials"
        with pytest.raises(RequestError) as err:
            await c.ready()
        assert err.value.code == "unauthenticated"
        for _ in range(4):
            with pytest.raises(RequestError):
                await c.sign_in("a1", "wrong")
        with pytest.raises(RequestError) as err:  # locked out now, even with the right secret
            await c.sign_in("a1", secret("a1"))
        assert err.value.code == "throttled" and err.value.details["retry_after"] > 0
        assert app.engine.agents["a1"].state.value == "logged_out"
        await c.close()


async def test_hello_first_and_version(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = AgentClient(url(app))
        await c.connect()
        c2 = AgentClient(url(app))
        c2.ws = await __import__("websockets").connect(url(app), compression=None)
        c2.closed = asyncio.get_running_loop().create_future()
        c2._reader = asyncio.get_running_loop().create_task(c2._read(c2.ws))
        with pytest.raises(RequestError) as err:
            await c2.request(m.SignIn(id=0, agent_id="a1", secret=secret("a1")))
        assert err.value.code == "hello_required"
        with pytest.raises(RequestError) as err:
            await c2.request(m.Hello(id=0, version=99))
        assert err.value.code == "unsupported_version"
        await c.close()
        await c2.close()


async def test_takeover_closes_the_first_desktop_with_4002(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        first = await desktop(app, "a1")
        await first.ready()
        second = await desktop(app, "a1")
        assert first.closed is not None
        code, reason = await asyncio.wait_for(first.closed, 5)
        assert code == 4002 and "another desktop" in reason
        assert app.engine.agents["a1"].state.value == "ready"  # the agent's work goes on
        snap = await second.snapshot()
        assert snap.state == "ready"
        assert app.component("agents").signed_in() == {"a1"}  # type: ignore[union-attr]
        await second.close()


async def test_second_sign_in_refused_by_config(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(second_sign_in="refuse"), tmp_path) as app:
        first = await desktop(app, "a1")
        c = AgentClient(url(app))
        await c.connect()
        with pytest.raises(RequestError) as err:
            await c.sign_in("a1", secret("a1"))
        assert err.value.code == "already_signed_in"
        await first.snapshot()  # the first session goes on
        await first.close()
        await c.close()


async def test_ring_timeout_pushes_timeout_and_not_ready(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from core_harness import group

    settings = make_settings([group("g", ring_timeout=0.2)])
    async with running(settings, tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1")
        await c.next_push(m.Offer)
        ended = await c.next_push(m.OfferEnded, timeout=3)
        assert ended.result == "timeout"
        st = await c.next_push(m.StateChanged)
        assert (st.state, st.reason) == ("not_ready", "no-answer")
        assert (await c.snapshot()).today.missed == 1
        await c.close()


async def test_an_agent_cannot_act_on_another_agents_call_or_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        a1 = await desktop(app, "a1")
        a2 = await desktop(app, "a2")
        await a1.ready()
        call(app, "c1")
        await a1.next_push(m.Offer)
        for attempt in (a2.accept, a2.reject, a2.hangup, a2.hold):
            with pytest.raises(RequestError) as err:
                await attempt("c1")
            assert err.value.code == "forbidden"
        with pytest.raises(RequestError) as err:
            await a2.request(m.Ready(id=0, agent_id="a1"))
        assert err.value.code == "forbidden"
        with pytest.raises(RequestError) as err:
            await a2.request(m.SignOut(id=0, agent_id="a1"))
        assert err.value.code == "forbidden"
        assert app.engine.agents["a1"].state.value == "reserved"
        assert app.engine.agents["a2"].state.value == "not_ready"
        await a1.accept("c1")
        switch_answers(app, "c1", "a1")
        with pytest.raises(RequestError) as err:
            await a2.transfer("c1", "agent", "a2")
        assert err.value.code == "forbidden"
        with pytest.raises(RequestError) as err:
            await a2.accept("nope")
        assert err.value.code == "unknown_call"
        await a1.close()
        await a2.close()


async def test_hold_retrieve_and_pending_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1", grp="n")
        await c.accept((await c.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        await c.next_push(m.CallChanged)
        await c.hold("c1")  # HoldCaller to the switch; the switch confirms
        app.core.submit(ev.HoldChanged("c1", True))
        held = await c.next_push(m.CallChanged)
        assert (held.event, held.held) == ("held", True)
        with pytest.raises(RequestError) as err:
            await c.hold("c1")
        assert err.value.code == "wrong_state"
        await c.retrieve("c1")
        app.core.submit(ev.HoldChanged("c1", False))
        assert (await c.next_push(m.CallChanged)).event == "retrieved"
        await c.set_pending("not_ready", "lunch")
        st = await c.next_push(m.StateChanged)
        assert (st.state, st.pending, st.pending_reason) == ("on_call", "not_ready", "lunch")
        with pytest.raises(RequestError) as err:
            await c.not_ready("no-such-reason")
        assert err.value.code == "unknown_reason"
        app.core.submit(ev.AgentLegEnded("c1", "a1"))
        await c.next_push(m.CallEnded)
        st = await c.next_push(m.StateChanged)
        assert (st.state, st.reason) == ("not_ready", "lunch")  # group n: no wrap-up
        await c.close()


async def test_mandatory_wrap_up_needs_a_code(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1", grp="m")
        await c.accept((await c.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        app.core.submit(ev.AgentLegEnded("c1", "a1"))
        assert (await c.next_push(m.WrapUpStarted)).mode == "mandatory"
        with pytest.raises(RequestError) as err:
            await c.finish_wrap_up()
        assert err.value.code == "wrapup_code_required"
        with pytest.raises(RequestError) as err:
            await c.wrap_up_code("bogus")
        assert err.value.code == "unknown_reason"
        await c.wrap_up_code("other")
        await c.finish_wrap_up()
        assert (await c.next_push(m.StateChanged)).state == "ready"
        await c.close()


async def test_blind_transfer_to_an_agent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        a1 = await desktop(app, "a1")
        a2 = await desktop(app, "a2")
        await a1.ready()
        call(app, "c1", grp="n")
        await a1.accept((await a1.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        await a2.ready()
        await a1.transfer("c1", "agent", "a2")  # DropLeg(a1) to the switch; it confirms:
        app.core.submit(ev.AgentLegEnded("c1", "a1"))
        left = await a1.next_push(m.CallChanged)
        while left.event != "left":
            left = await a1.next_push(m.CallChanged)
        assert left.call_id == "c1"
        offer = await a2.next_push(m.Offer)
        assert offer.call_id == "c1"
        await a2.accept("c1")
        switch_answers(app, "c1", "a2")
        assert (await a2.next_push(m.CallChanged)).agents == ["a2"]
        await a1.close()
        await a2.close()


async def test_consult_then_complete_and_conference(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        a1 = await desktop(app, "a1")
        a2 = await desktop(app, "a2")
        a3 = await desktop(app, "a3")
        await a1.ready()
        call(app, "c1", grp="n")
        await a1.accept((await a1.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        await a2.ready()
        cid = await a1.consult_start("c1", "agent", "a2")
        offer = await a2.next_push(m.Offer)
        assert offer.call_id == cid and offer.screen.consult_from == "a1"
        await a2.accept(cid)
        switch_answers(app, cid, "a2")
        seen = await a1.next_push(m.CallChanged)  # the consult leg's change reaches a1 too
        while seen.call_id != cid:
            seen = await a1.next_push(m.CallChanged)
        assert seen.agents == ["a2"]
        await a1.conference_add("c1")  # merge: BridgeConsult(conference) to the switch
        app.core.submit(ev.ConsultBridged("c1", True))
        conf = await a2.next_push(m.CallChanged)
        while conf.call_id != "c1":
            conf = await a2.next_push(m.CallChanged)
        assert conf.event == "conference" and sorted(conf.agents) == ["a1", "a2"]
        await a1.conference_drop("c1", "a2")
        app.core.submit(ev.AgentLegEnded("c1", "a2"))
        gone = await a2.next_push(m.CallChanged)
        while gone.event != "party_left":
            gone = await a2.next_push(m.CallChanged)
        assert gone.agents == ["a1"]
        # consult transfer to a3: start, a3 answers, complete
        await a3.ready()
        cid2 = await a1.consult_start("c1", "agent", "a3")
        await a3.accept((await a3.next_push(m.Offer)).call_id)
        switch_answers(app, cid2, "a3")
        await a1.consult_complete("c1")
        app.core.submit(ev.ConsultBridged("c1", False))
        moved = await a3.next_push(m.CallChanged)
        while not (moved.call_id == "c1" and moved.event == "transferred"):
            moved = await a3.next_push(m.CallChanged)
        assert moved.agents == ["a3"]
        assert app.engine.agents["a1"].state.value != "on_call"
        for c in (a1, a2, a3):
            await c.close()


async def test_forced_state_change_shows_the_supervisor(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        await c.next_push(m.StateChanged)
        app.core.submit(ev.AgentNotReady("a1", "break", actor="sup-1"))
        st = await c.next_push(m.StateChanged)
        assert (st.state, st.reason, st.actor) == ("not_ready", "break", "sup-1")
        gw = app.component("agents")
        assert gw.send_message(["a1", "a2"], "sup-1", "team meeting at 3") == 1  # type: ignore[union-attr]
        msg = await c.next_push(m.Message)
        assert (msg.sender, msg.text) == ("sup-1", "team meeting at 3")
        app.core.submit(ev.AgentLogout("a1", actor="sup-1"))
        code, reason = await asyncio.wait_for(c.closed, 5)  # type: ignore[arg-type]
        assert code == 4003 and "sup-1" in reason
        assert gw.signed_in() == set()  # type: ignore[union-attr]


async def test_sign_out_closes_the_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.sign_out()
        st = await c.next_push(m.StateChanged)
        assert st.state == "logged_out"
        code, _ = await asyncio.wait_for(c.closed, 5)  # type: ignore[arg-type]
        assert code == 1000
        c2 = await desktop(app, "a1")  # signs in afresh
        assert (await c2.snapshot()).state == "not_ready"
        await c2.close()


async def test_force_disconnect(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        gw = app.component("agents")
        assert gw.force_disconnect("a1", "desk moved") is True  # type: ignore[union-attr]
        assert gw.force_disconnect("a2", "x") is False  # type: ignore[union-attr]
        code, reason = await asyncio.wait_for(c.closed, 5)  # type: ignore[arg-type]
        assert (code, reason) == (4003, "desk moved")
        a = app.engine.agents["a1"]
        assert (a.state.value, a.reason) == ("not_ready", "disconnected")
        with pytest.raises(RequestError) as err:  # the token no longer resumes anything
            await c.reconnect()
        assert err.value.code == "resume_failed"
        await c.sign_in("a1", secret("a1"))  # a fresh sign-in is welcome
        await c.ready()
        await c.close()


async def test_group_stats_and_supervisor_notice_pushes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        call(app, "q1")
        call(app, "q2", grp="m")
        gw = app.component("agents")
        assert gw.push_group_stats() == 1  # type: ignore[union-attr]
        stats = await c.next_push(m.GroupStats)
        waiting = {g.group: g.waiting for g in stats.groups}
        assert waiting == {"g": 1, "m": 1, "n": 0}
        assert gw.notify("a1", "whisper", "sup-1", "q1") is True  # type: ignore[union-attr]
        notice = await c.next_push(m.Notice)
        assert (notice.kind, notice.supervisor) == ("whisper", "sup-1")
        await c.close()


def test_today_counters_start_again_at_the_centers_local_midnight() -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    from acd.states import AgentState as S
    from agent_gateway.views import Today

    tz = ZoneInfo("Asia/Shanghai")
    today = Today(tz)
    before = dt.datetime(2025, 3, 1, 23, 50, tzinfo=tz).timestamp()
    after = dt.datetime(2025, 3, 2, 0, 10, tzinfo=tz).timestamp()
    utc_same_day = dt.datetime(2025, 3, 1, 16, 5, tzinfo=dt.UTC).timestamp()  # 00:05 local
    today.of("a1", before).offered += 3
    today.state_changed(ev.AgentStateChanged(before, "a1", S.READY, S.NOT_READY, "break", "", None))
    assert today.of("a1", before).day == "2025-03-01"
    c = today.of("a1", utc_same_day)
    assert c.day == "2025-03-02" and c.offered == 0  # the UTC date is still the 1st
    view = today.of("a1", after).view(after)
    assert view.not_ready_seconds == pytest.approx(600.0)  # counted from local midnight


async def test_hot_desk_endpoint_and_blind_transfer_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        commands: list[ev.Output] = []
        app.core.subscribe(commands.extend)
        c = await desktop(app, "a1", endpoint="sip:a1@desk-12")
        assert (await c.snapshot()).endpoint == "sip:a1@desk-12"
        await c.ready()
        call(app, "c1", grp="n")
        await c.accept((await c.next_push(m.Offer)).call_id)
        connect = next(o for o in commands if isinstance(o, ev.ConnectAgent))
        assert connect.endpoint == "sip:a1@desk-12"  # the switch rings this desk
        switch_answers(app, "c1", "a1")
        await c.transfer("c1", "external", "95555")
        out = [o for o in commands if isinstance(o, ev.TransferExternal)]
        assert out and out[0].number == "95555"
        app.core.submit(ev.TransferredOut("c1"))  # the switch handed the caller over
        ended = await c.next_push(m.CallEnded)
        assert (ended.cause, ended.by) == ("transferred_out", "a1")
        await c.close()


async def test_signing_in_at_another_desk_moves_the_agents_calls_there(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        commands: list[ev.Output] = []
        app.core.subscribe(commands.extend)
        first = await desktop(app, "a1", endpoint="sip:a1@desk-12")
        await first.ready()
        # the agent walks to desk 7 and signs in there without signing out at desk 12
        second = await desktop(app, "a1", endpoint="sip:a1@desk-7")
        snap = await second.snapshot()
        assert (snap.endpoint, snap.state) == ("sip:a1@desk-7", "ready")  # the work goes on
        call(app, "c1", grp="n")
        await second.accept((await second.next_push(m.Offer)).call_id)
        connect = next(o for o in commands if isinstance(o, ev.ConnectAgent))
        assert connect.endpoint == "sip:a1@desk-7"  # not the desk left behind
        await second.close()
        await first.close()


async def test_caller_hangs_up_while_ringing_withdraws_the_offer(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1")
        await c.next_push(m.Offer)
        ringing = (await c.snapshot()).offer
        assert ringing is not None and ringing.call_id == "c1"  # a redrawn desktop sees it
        app.core.submit(ev.CallerHangup("c1"))
        ended = await c.next_push(m.OfferEnded)
        assert ended.result == "withdrawn"
        assert (await c.snapshot()).offer is None
        with pytest.raises(RequestError) as err:
            await c.accept("c1")
        assert err.value.code in ("wrong_state", "unknown_call")
        assert app.engine.agents["a1"].state.value == "ready"
        await c.close()


async def test_offer_latency_and_protocol_errors_reach_the_metrics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from acd.app import App

    app = App(
        make_settings(),
        port=0,
        data_dir=tmp_path,
        components=["agent_fixture:metrics_recorder", "agent_gateway.server:component"],
    )
    await app.start()
    try:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1")
        await c.next_push(m.Offer)
        with pytest.raises(RequestError):
            await c.hangup("nope")
        rec = app.component("metrics")
        assert len(rec.offers) == 1 and 0 <= rec.offers[0] < 5  # type: ignore[union-attr]
        assert rec.errors == [("agent", "unknown_call")]  # type: ignore[union-attr]
        await c.close()
    finally:
        await app.stop()


async def test_screen_pop_shows_recent_contacts_from_the_journal(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from acd.app import App

    app = App(
        make_settings(),
        port=0,
        data_dir=tmp_path,
        components=["acd.journal:component", "agent_gateway.server:component"],
    )
    await app.start()
    try:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1", grp="n", caller="13912345678")
        await c.accept((await c.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        app.core.submit(ev.AgentLegEnded("c1", "a1"))
        await app.component("journal").barrier()  # type: ignore[union-attr]
        await c.next_push(m.CallEnded)
        call(app, "c2", grp="n", caller="13912345678")
        offer = await c.next_push(m.Offer)
        recent = offer.screen.recent_contacts
        assert [r["call_id"] for r in recent] == ["c1"] and recent[0]["agent"] == "a1"
        await c.close()
    finally:
        await app.stop()
