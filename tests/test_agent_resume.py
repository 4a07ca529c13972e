"""Lost desktops and resume: nothing lost, nothing shown twice; gaps fall back to a snapshot."""

from __future__ import annotations

import asyncio
import random

from agent_fixture import call, desktop, make_settings, running, switch_answers

from acd import events as ev
from acd.app import App
from agent_gateway import messages as m
from agent_gateway.client import AgentClient


async def _lost(app: App, aid: str) -> None:
    """Wait until the server noticed the desktop is gone."""
    gw = app.component("agents")
    for _ in range(200):
        s = gw.sessions.get(aid)  # type: ignore[union-attr]
        if s is not None and s.channel is None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server did not notice the lost connection")


def _seqs(pushes: list[m.Push]) -> list[int]:
    return [p.seq for p in pushes]


async def _cut_and_resume(app: App, c: AgentClient, while_away: list[ev.Event]) -> list[m.Push]:
    before = c.drain()
    c.abort()
    await _lost(app, c.agent_id)
    for e in while_away:
        app.core.submit(e)
    res = await c.reconnect()
    assert res.resumed and res.snapshot is None
    await asyncio.sleep(0.05)
    return before + c.drain()


async def test_resume_at_each_step_of_a_call_loses_and_repeats_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        start = c.last_seq
        seen: list[m.Push] = []
        for n in range(6):
            cid = f"c{n}"
            await c.ready()
            app.core.submit(ev.EnqueueCall(ev.CallInfo(cid, caller="13800000000"), "g"))
            await asyncio.sleep(0.02)
            await c.accept(cid)  # a cut while ringing gives the call back: tested below
            steps: list[list[ev.Event]] = [
                [ev.AgentLegAnswered(cid, "a1")],
                [ev.HoldChanged(cid, True), ev.HoldChanged(cid, False)],
                [ev.AgentLegEnded(cid, "a1")],
            ]
            cut_at = rng.randrange(len(steps))
            for i, events in enumerate(steps):
                if i == cut_at:
                    seen += await _cut_and_resume(app, c, events)
                else:
                    for e in events:
                        app.core.submit(e)
                await asyncio.sleep(0.02)
            await c.wrap_up_code("inquiry", finish=True)
            await asyncio.sleep(0.05)
            seen += c.drain()
        s = app.component("agents").sessions.get("a1")  # type: ignore[union-attr]
        seqs = _seqs(seen)
        assert seqs == list(range(start + 1, s.log.seq + 1))  # every push once, in order
        kinds = [type(p).__name__ for p in seen]
        assert kinds.count("Offer") == 6 and kinds.count("CallEnded") == 6
        await c.close()


async def test_lost_desktop_changes_state_and_resume_restores_the_reason(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        a1 = await desktop(app, "a1")
        a2 = await desktop(app, "a2")
        await a1.ready()
        await a2.not_ready("break")
        await asyncio.sleep(0.05)
        a1.drain()
        a1.abort()
        a2.abort()
        await _lost(app, "a1")
        await _lost(app, "a2")
        e1, e2 = app.engine.agents["a1"], app.engine.agents["a2"]
        assert (e1.state.value, e1.reason) == ("not_ready", "disconnected")
        assert (e2.state.value, e2.reason) == ("not_ready", "disconnected")  # visible to all
        await a2.reconnect()
        assert (e2.state.value, e2.reason) == ("not_ready", "break")
        res = await a1.reconnect()
        assert res.replayed >= 1
        st = await a1.next_push(m.StateChanged)
        assert (st.state, st.reason) == ("not_ready", "disconnected")
        await a1.ready()
        assert e1.state.value == "ready"
        await a1.close()
        await a2.close()


async def test_ringing_offer_goes_back_when_the_desktop_is_lost(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        a1 = await desktop(app, "a1")
        a2 = await desktop(app, "a2")
        await a1.ready()
        call(app, "c1")
        await a1.next_push(m.Offer)
        a1.abort()
        await _lost(app, "a1")
        await a2.ready()
        assert (await a2.next_push(m.Offer)).call_id == "c1"  # the call kept its place
        await a1.reconnect()
        ended = await a1.next_push(m.OfferEnded)
        assert (ended.result, ended.reason) == ("timeout", "disconnected")
        await a1.close()
        await a2.close()


async def test_on_call_survives_a_lost_desktop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        a1 = await desktop(app, "a1")
        await a1.ready()
        call(app, "c1")
        await a1.accept((await a1.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        a1.abort()
        await _lost(app, "a1")
        assert app.engine.agents["a1"].state.value == "on_call"
        await a1.reconnect()
        await a1.hangup("c1")
        await a1.close()


async def test_replay_gap_gives_a_snapshot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(replay_buffer=10), tmp_path) as app:
        c = await desktop(app, "a1")
        c.abort()
        await _lost(app, "a1")
        gw = app.component("agents")
        for i in range(15):
            gw.send_message(["a1"], "sup", f"m{i}")  # type: ignore[union-attr]
        res = await c.reconnect()
        assert res.snapshot is not None and res.replayed == 0
        assert all(p.seq > res.seq for p in c.drain())  # nothing older than the snapshot
        await c.close()


async def test_session_expires_after_the_grace_and_signs_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(resume_grace=0.2), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        c.abort()
        await _lost(app, "a1")
        await asyncio.sleep(0.4)
        assert app.engine.agents["a1"].state.value == "logged_out"
        assert app.component("agents").signed_in() == set()  # type: ignore[union-attr]


async def test_expired_agent_in_mandatory_wrap_up_is_signed_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(resume_grace=0.2), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.ready()
        call(app, "c1", grp="m")
        await c.accept((await c.next_push(m.Offer)).call_id)
        switch_answers(app, "c1", "a1")
        c.abort()
        await _lost(app, "a1")
        await asyncio.sleep(0.4)  # expired: sign-out is deferred by the call
        a = app.engine.agents["a1"]
        assert a.state.value == "on_call" and a.pending is not None
        app.core.submit(ev.AgentLegEnded("c1", "a1"))  # mandatory wrap-up, nobody to code it
        await asyncio.sleep(0.05)
        assert a.state.value == "logged_out"


async def test_resume_in_the_other_encoding_replays_the_same_pushes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from agent_fixture import url

    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")  # MessagePack
        c.abort()
        await _lost(app, "a1")
        gw = app.component("agents")
        gw.send_message(["a1"], "sup", "while you were away")  # type: ignore[union-attr]
        j = AgentClient(url(app), binary=False)  # the same session from a JSON desktop
        j.token, j.last_seq = c.token, c.last_seq
        await j.connect()
        res = await j.resume()
        assert res.resumed and res.replayed == 2  # the reason change and the message
        msg = await j.next_push(m.Message)
        assert msg.text == "while you were away"
        await j.close()
