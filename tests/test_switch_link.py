"""The switch link against a real server on 127.0.0.1, driven by the simulated switch."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import websockets
from switch_harness import (
    TOKEN,
    auto_accept,
    ready,
    settings_at,
    start_app,
    until,
    write_center,
)

from acd import events as ev
from acd.errors import AcdError
from acd.live import CallPhase
from ivr import messages as m
from ivr.link import Leg
from loadtest.sim_switch import Caller, SimCall, SimSwitch, SwitchError


def url(app) -> str:  # type: ignore[no-untyped-def]
    return f"ws://127.0.0.1:{app.web.port}/switch"


async def test_arrival_ivr_queue_connect_and_end(tmp_path: Path) -> None:
    app, journal = await start_app(settings_at(write_center(tmp_path / "c")), tmp_path / "d")
    try:
        auto_accept(app)
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2", "pin": "1234"}))
        await sw.connect()
        assert sw.resync_result == {"restored": 0, "kept": 0, "ended": 0, "refused": []}
        c = await sw.place("13900000002")
        await until(lambda: c.state == "queued")
        call = app.engine.calls[c.id]
        assert call.group == "general"
        assert call.info.brand == "mzone" and call.info.attributes["city"] == "suzhou"
        assert call.info.attributes["topic"] == "billing"
        assert call.info.inputs == {"menu": "2", "pin": "1234"}
        assert call.info.ivr_path == (
            "lookup",
            "welcome",
            "vip-check",
            "menu",
            "pin",
            "tag",
            "to-general",
        )
        assert call.base == 105.0  # mzone 100 + the IVR's bonus 5
        ready(app, "a2")
        await until(lambda: c.state == "connected")
        assert c.agent_id == "a2"
        await until(lambda: app.engine.agents["a2"].state.value == "on_call")
        sw.hang_up(c)
        await until(lambda: journal.ended(c.id) is not None)
        end = journal.ended(c.id)
        assert end is not None and end.cause is ev.EndCause.COMPLETED
        ivr = journal.kinds("ivr")
        assert ivr and ivr[0][0] == c.id and ivr[0][1]["inputs"]["pin"] == "1234"
        await until(lambda: journal.barriers >= 1)
        assert not sw.errors
        await sw.close()
    finally:
        await app.stop()


async def test_vip_fast_path_and_survey_after_the_agent_hangs_up(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", survey=True)
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        auto_accept(app)
        ready(app, "a1")
        sw = SimSwitch(
            url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2", "pin": "7777"}, survey="2")
        )
        await sw.connect()
        vip = await sw.place("13800000001")
        await until(lambda: vip.state == "connected")
        assert app.engine.calls[vip.id].group == "vip"
        assert vip.prompts[:2] == ["welcome", "vip-hello"]
        sw.agent_hangs_up(vip)
        await until(lambda: journal.ended(vip.id) is not None)
        # vip has no survey: the caller is hung up
        await until(lambda: vip.state == "ended")
        gen = await sw.place("13900000002")
        await until(lambda: gen.state == "connected")
        sw.agent_hangs_up(gen)
        await until(lambda: journal.kinds("survey"))
        ((cid, data),) = journal.kinds("survey")
        assert cid == gen.id and data["score"] == 2 and data["agent"] == "a1"
        await until(lambda: gen.state == "ended")
        assert gen.prompts[-1] == "survey-thanks"
        await sw.close()
    finally:
        await app.stop()


async def test_bad_input_gets_typed_errors_and_the_link_stays_up(tmp_path: Path) -> None:
    app, _ = await start_app(settings_at(write_center(tmp_path / "c")), tmp_path / "d")
    try:
        async with websockets.connect(url(app)) as ws:
            await ws.send(
                json.dumps(
                    {"type": "hello", "id": 1, "version": 1, "switch": "pbx-1", "token": TOKEN}
                )
            )
            assert json.loads(await ws.recv())["type"] == "ok"

            commands: list[dict] = []  # type: ignore[type-arg]

            async def ask(frame: str | bytes) -> dict:  # type: ignore[type-arg]
                await ws.send(frame)
                while True:
                    msg = json.loads(await ws.recv())
                    if "seq" not in msg:
                        return msg  # type: ignore[no-any-return]
                    commands.append(msg)

            assert (await ask("{not json"))["code"] == "bad_frame"
            assert (await ask(b"\xc1\xc1"))["code"] == "bad_frame"
            assert (await ask('{"type": "dance", "id": 2}'))["code"] == "unknown_type"
            r = await ask('{"type": "digits", "id": 3, "call_id": 5}')
            assert r["code"] == "bad_message" and r["id"] == 3
            r = await ask('{"type": "digits", "id": 4, "call_id": "nope", "digits": "1"}')
            assert r["code"] == "unknown_call"
            r = await ask(
                '{"type": "agent_answered", "id": 5, "call_id": "nope", "agent_id": "a1"}'
            )
            assert r["code"] == "unknown_call"
            r = await ask('{"type": "result", "seq": 999}')
            assert r["code"] == "unknown_seq"
            r = await ask(
                '{"type": "hello", "id": 6, "version": 1, "switch": "pbx-1", "token": "x"}'
            )
            assert r["code"] == "bad_message"
            arrived = {"type": "arrived", "id": 7, "call_id": "c1", "caller": "1", "dialed": "x"}
            assert (await ask(json.dumps(arrived)))["type"] == "ok"
            assert commands[-1]["type"] == "play" and commands[-1]["prompt"] == "welcome"
            await ws.send(json.dumps({"type": "result", "seq": commands[-1]["seq"]}))
            arrived["id"] = 8
            assert (await ask(json.dumps(arrived)))["code"] == "duplicate_call"
            # an agent leg for a call that is in the IVR, not connecting: out of order
            r = await ask('{"type": "agent_answered", "id": 9, "call_id": "c1", "agent_id": "a1"}')
            assert r["code"] == "unknown_call"
            r = await ask(json.dumps({"type": "caller_hangup", "id": 10, "call_id": "c1"}))
            assert r == {"type": "ok", "id": 10}
            r = await ask('{"type": "digits", "id": 11, "call_id": "c1", "digits": "1"}')
            assert r["code"] == "unknown_call"  # digits for an ended call
            r = await ask('{"type": "caller_hangup", "id": 12, "call_id": "c1"}')
            assert r["code"] == "unknown_call"  # a duplicate final event
            arrived.update(id=13, call_id="c2")
            assert (await ask(json.dumps(arrived)))["type"] == "ok"  # still serving
        assert "c1" not in app.engine.calls
    finally:
        await app.stop()


async def test_hello_is_checked(tmp_path: Path) -> None:
    app, _ = await start_app(settings_at(write_center(tmp_path / "c")), tmp_path / "d")
    try:
        for hello, code in (
            ({"version": 1, "switch": "pbx-1", "token": "wrong"}, "unauthenticated"),
            ({"version": 1, "switch": "pbx-9", "token": TOKEN}, "unauthenticated"),
            ({"version": 99, "switch": "pbx-1", "token": TOKEN}, "unsupported_version"),
        ):
            async with websockets.connect(url(app)) as ws:
                await ws.send(json.dumps({"type": "hello", "id": 1, **hello}))
                assert json.loads(await ws.recv())["code"] == code
                with pytest.raises(websockets.exceptions.ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1008
        async with websockets.connect(url(app)) as ws:
            await ws.send('{"type": "digits", "id": 1, "call_id": "x", "digits": "1"}')
            assert json.loads(await ws.recv())["code"] == "hello_required"
    finally:
        await app.stop()


async def _queued_calls(app, sw: SimSwitch) -> list:  # type: ignore[no-untyped-def]
    """Three calls waiting: a VIP, then two general ones."""
    vip = await sw.place("13800000001")
    gen1 = await sw.place("13900000002")
    gen2 = await sw.place("13512345678")
    await until(lambda: all(c.state == "queued" for c in (vip, gen1, gen2)))
    return [vip, gen1, gen2]


async def test_server_restart_resync_keeps_places_and_priorities(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c")
    caller = Caller(keys={"menu": "2", "pin": "1234"})
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=caller)
    try:
        await sw.connect()
        auto_accept(app)
        ready(app, "a2")
        connected = await sw.place("13700000009")
        await until(lambda: connected.state == "connected")
        calls = await _queued_calls(app, sw)
        before = {
            c.id: (app.engine.calls[c.id].queued_at, app.engine.calls[c.id].base) for c in calls
        }
    finally:
        await app.stop()
    await until(lambda: sw.closed.is_set())
    app2, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        sw.url = url(app2)
        await sw.connect()
        assert sw.resync_result is not None
        assert sw.resync_result["restored"] == 4 and not sw.resync_result["refused"]
        for c in calls:
            call = app2.engine.calls[c.id]
            assert (call.queued_at, call.base) == before[c.id]
            assert call.phase is CallPhase.QUEUED
        restored = app2.engine.calls[connected.id]
        assert restored.phase is CallPhase.CONNECTED
        assert app2.engine.agents["a2"].state.value == "on_call"
        # the general queue keeps its order: gen1 arrived before gen2
        assert app2.engine.position(calls[1].id) == 0 and app2.engine.position(calls[2].id) == 1
        # and the restored calls keep working: the agent's call ends, the next is offered
        auto_accept(app2)
        sw.hang_up(connected)
        await until(lambda: connected.id not in app2.engine.calls)
        ready(app2, "a1")
        await until(lambda: any(c.state == "connected" for c in calls))
        await sw.close()
    finally:
        await app2.stop()


async def test_resync_ends_a_connected_call_whose_agent_had_left(tmp_path: Path) -> None:
    # The agent's leg was dropped, then the server died before the call's end was recorded:
    # the switch still holds the caller, connected to nobody.
    path = write_center(tmp_path / "c")
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        sw = SimSwitch(url(app), "pbx-1", TOKEN)
        now = app.core.now()
        held = SimCall("pbx-1-77", "13700000007", "10086", now - 60, state="connected")
        held.group, held.queued_at, held.answered_at = "general", now - 50, now - 40
        sw.calls[held.id] = held
        await sw.connect()
        assert sw.resync_result is not None
        assert [r["code"] for r in sw.resync_result["refused"]] == ["ended"]
        await until(lambda: held.state == "ended")
        assert held.end_reason == "lost"  # hung up, not left in silence
        record = journal.ended(held.id)  # and the call has its record
        assert record is not None and record.cause is ev.EndCause.LOST
        assert (record.queued_at, record.answered_at) == (now - 50, now - 40)
        assert record.info is not None and record.info.caller == "13700000007"
        assert journal.kinds("lost")[-1][0] == held.id
        assert held.id not in app.engine.calls
        await sw.close()
    finally:
        await app.stop()


async def test_a_resync_before_an_ended_call_is_durable_neither_revives_nor_records_it(
    tmp_path: Path,
) -> None:
    path = write_center(tmp_path / "c")
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        auto_accept(app)
        ready(app, "a2")
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2"}))
        await sw.connect()
        c = await sw.place("13900000003")
        await until(lambda: c.state == "connected")
        journal.hold = True  # a slow commit: the call's record is not durable yet
        app.core.submit(ev.AgentHangup("a2", c.id))
        await until(lambda: c.agent_id == "")  # the agent's leg is dropped at once
        await sw.close()
        asked = journal.barriers
        # back within the grace, the caller still held, with no agent; the resync's reply
        # waits for the journal too
        back = asyncio.create_task(sw.connect())
        await until(lambda: journal.barriers > asked)  # the resync was handled
        assert c.id not in app.engine.calls and c.state == "connected"  # not hung up yet
        assert len([o for o in journal.outputs if isinstance(o, ev.CallEnded)]) == 1
        journal.release()
        await back
        assert sw.resync_result is not None
        assert [r["code"] for r in sw.resync_result["refused"]] == ["ended"]
        await until(lambda: c.state == "ended")  # now that the record is durable
        assert c.end_reason == "completed"
        await sw.close()
    finally:
        await app.stop()


async def test_disconnect_grace_then_lost_and_reconnect_within_grace(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", grace=0.4)
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        caller = Caller(keys={"menu": "2", "pin": "1234"})
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=caller)
        await sw.connect()
        calls = await _queued_calls(app, sw)
        await sw.close()
        await asyncio.sleep(0.1)
        await sw.connect()  # back within the grace period: everything kept
        assert sw.resync_result == {"restored": 0, "kept": 3, "ended": 0, "refused": []}
        assert all(c.id in app.engine.calls for c in calls)
        await sw.request(m.CallerHangup(0, calls[2].id))
        sw.calls.pop(calls[2].id)
        held = sw.calls.pop(calls[1].id)  # gone while we were away: reported by its absence
        await sw.close()
        await sw.connect()
        assert sw.resync_result is not None and sw.resync_result["ended"] == 1
        assert journal.ended(held.id) is not None
        await sw.close()
        await until(lambda: calls[0].id not in app.engine.calls, timeout=3)
        end = journal.ended(calls[0].id)
        assert end is not None and end.cause is ev.EndCause.LOST
        lost = journal.kinds("lost")
        assert lost and "did not come back" in lost[0][1]["reason"]
    finally:
        await app.stop()


async def test_unanswered_connect_fails_the_leg_and_requeues(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", ack=0.2)
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        auto_accept(app)
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2", "pin": "1234"}))
        sw.mute.add("connect")
        await sw.connect()
        c = await sw.place("13900000002")
        ready(app, "a2")
        await until(lambda: app.engine.agents["a2"].reason == "connect-failed", timeout=3)
        assert app.engine.calls[c.id].phase is CallPhase.QUEUED  # back in its place
        await sw.close()
    finally:
        await app.stop()


async def test_supervise(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", ack=0.3)
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        link = app.component("switch")
        auto_accept(app)
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2", "pin": "1234"}))
        await sw.connect()
        waiting = await sw.place("13900000002")
        await until(lambda: waiting.state == "queued")
        with pytest.raises(AcdError) as err:
            await link.supervise(waiting.id, "monitor", "sup1", "sip:sup1")  # type: ignore[union-attr]
        assert err.value.code == "not_connected"
        with pytest.raises(AcdError) as err:
            await link.supervise("nope", "monitor", "sup1", "sip:sup1")  # type: ignore[union-attr]
        assert err.value.code == "unknown_call"
        ready(app, "a2")
        await until(lambda: waiting.state == "connected")
        seen: list[m.Supervise] = []
        sw.on_command = lambda c, cmd: seen.append(cmd) if isinstance(cmd, m.Supervise) else None
        await link.supervise(waiting.id, "monitor", "sup1", "sip:sup1")  # type: ignore[union-attr]
        assert seen[-1].mode == "monitor" and seen[-1].supervisor == "sup1"
        sw.refuse.add("supervise")
        with pytest.raises(AcdError) as err:
            await link.supervise(waiting.id, "barge", "sup1", "sip:sup1")  # type: ignore[union-attr]
        assert err.value.code == "switch_error"
        sw.refuse.clear()
        sw.mute.add("supervise")
        with pytest.raises(AcdError) as err:
            await link.supervise(waiting.id, "whisper", "sup1", "sip:sup1")  # type: ignore[union-attr]
        assert err.value.code == "switch_timeout"
        with pytest.raises(AcdError) as err:
            await link.supervise(waiting.id, "dance", "sup1", "sip:sup1")  # type: ignore[union-attr]
        assert err.value.code == "bad_request"
        await sw.close()
    finally:
        await app.stop()


async def test_blocks_are_explicit_heard_recorded_and_persisted(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c")
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        link = app.component("switch")
        with pytest.raises(AcdError) as err:
            link.add_block({"pattern": "139*", "reason": "abuse"}, "admin1")  # type: ignore[union-attr]
        assert err.value.code == "bad_block"  # no expiry
        rule = link.add_block({"pattern": "139*", "reason": "abuse", "seconds": 3600}, "admin1")  # type: ignore[union-attr]
        assert rule["actor"] == "admin1"
        sw = SimSwitch(url(app), "pbx-1", TOKEN)
        await sw.connect()
        c = await sw.place("13900000002")
        await until(lambda: c.state == "ended")
        assert c.prompts == ["blocked"]
        assert journal.kinds("block")[-1][0] == c.id
        assert (tmp_path / "d" / "blocks.json").exists()
        await sw.close()
    finally:
        await app.stop()
    app2, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        link = app2.component("switch")
        assert [b["pattern"] for b in link.blocks()] == ["139*"]  # type: ignore[union-attr]
        link.remove_block("139*", "admin1")  # type: ignore[union-attr]
        assert link.blocks() == []  # type: ignore[union-attr]
        with pytest.raises(AcdError):
            link.remove_block("139*", "admin1")  # type: ignore[union-attr]
    finally:
        await app2.stop()


async def test_queue_keys_callback_keeps_place_then_dial_out(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", announce=0.1)
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2", "pin": "1234"}))
        await sw.connect()
        c = await sw.place("13900000002")
        await until(lambda: c.state == "queued")
        await until(lambda: c.announcements >= 2)  # position and wait while queued
        queued_at = app.engine.calls[c.id].queued_at
        await sw.request(m.Digits(0, c.id, "1"))
        await until(lambda: c.state == "ended")
        assert c.prompts[-1] == "callback-confirmed"
        task = app.engine.calls[c.id]
        assert task.kind is ev.CallKind.CALLBACK and task.queued_at == queued_at
        auto_accept(app)
        ready(app, "a2")
        await until(
            lambda: (
                app.engine.calls.get(c.id) is not None
                and app.engine.calls[c.id].phase is CallPhase.CONNECTED
            )
        )
        back = sw.calls[c.id]
        assert back.agent_id == "a2"
        sw.hang_up(back)
        await until(lambda: journal.ended(c.id) is not None)
        await sw.close()
    finally:
        await app.stop()


async def test_ivr_callback_transfer_and_menu_failure(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c")
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        keys: dict[str, str | None] = {"menu": "4"}
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys=keys))
        await sw.connect()
        cb = await sw.place("13900000002")
        await until(lambda: cb.state == "ended")
        assert app.engine.calls[cb.id].kind is ev.CallKind.CALLBACK
        keys["menu"] = "5"
        out = await sw.place("13900000002")
        await until(lambda: out.state == "ended")
        assert out.end_reason == "transferred" and out.id not in app.engine.calls
        keys["menu"] = "8"  # not a choice: retried once, then the goodbye
        bad = await sw.place("13900000002")
        await until(lambda: bad.state == "ended")
        assert bad.prompts == ["welcome", "menu", "invalid", "menu", "goodbye"]
        keys["menu"] = None  # silence: the collect times out
        quiet = await sw.place("13900000002")
        await until(lambda: quiet.state == "ended", timeout=6)
        assert quiet.prompts[-1] == "goodbye"
        await sw.close()
    finally:
        await app.stop()


async def test_closed_group_voicemail_becomes_a_task(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c")
    app, journal = await start_app(settings_at(path), tmp_path / "d")
    try:
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "3"}))
        await sw.connect()
        c = await sw.place("13900000002")
        await until(lambda: c.state == "ended")
        assert c.end_reason == "voicemail"
        task = app.engine.calls[c.id]
        assert task.kind is ev.CallKind.VOICEMAIL and task.voicemail == f"vm://{c.id}"
        assert journal.kinds("voicemail")[-1][1]["ref"] == f"vm://{c.id}"
        await sw.close()
    finally:
        await app.stop()


async def test_two_switches_each_own_their_calls(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c")
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        caller = Caller(keys={"menu": "2", "pin": "1234"})
        a = SimSwitch(url(app), "pbx-1", TOKEN, caller=caller)
        b = SimSwitch(url(app), "pbx-2", TOKEN, caller=caller)
        await a.connect()
        await b.connect()
        ca = await a.place("13900000002")
        await until(lambda: ca.state == "queued")
        with pytest.raises(SwitchError) as err:
            await b.request(m.Digits(0, ca.id, "1"))
        assert err.value.code == "unknown_call"
        await a.close()
        await b.close()
    finally:
        await app.stop()


async def test_reload_applies_to_new_calls_and_calls_in_a_flow_keep_their_version(
    tmp_path: Path,
) -> None:
    path = write_center(tmp_path / "c")
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        link = app.component("switch")
        hold = {"on": True}

        def digits(c, cmd):  # type: ignore[no-untyped-def]
            return None if hold["on"] else "2"

        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(digits_for=digits))
        await sw.connect()
        old = await sw.place("13900000002")
        await until(lambda: "menu" in old.prompts)
        text = path.read_text().replace(
            '"1" = "to-vip", "2" = "pin"', '"1" = "pin", "2" = "to-vip"'
        )
        path.write_text(text)
        version = await app.reload("admin1")
        assert version == app.settings.center.version
        await sw.request(m.Digits(0, old.id, "2"))
        assert link.legs[old.id].session.path[-1] == "pin"  # type: ignore[union-attr]
        hold["on"] = False
        new = await sw.place("13900000003")
        await until(lambda: new.state == "queued")
        assert app.engine.calls[new.id].group == "vip"
        path.write_text(
            path.read_text().replace(
                "[ivr.flows.main.nodes.bye]", "[ivr.flows.main.nodes.bye]\nnope = 1"
            )
        )
        with pytest.raises(AcdError) as err:
            await app.reload("admin1")
        assert err.value.code == "bad_config" and "nope" in err.value.message
        assert app.settings.center.version == version  # nothing changed
        await sw.close()
    finally:
        await app.stop()


async def test_the_write_window_is_configured_and_follows_a_reload(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c")
    assert settings_at(path).parts["switch"].write_window == 0.002  # the default
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2"}))
        await sw.connect()
        conn = app.component("switch").switches["pbx-1"].conn
        assert conn.ws.write_window == 0.002
        text = path.read_text()
        path.write_text(text.replace("[switch]\n", "[switch]\nwrite_window = 0\n"))
        await app.reload("admin1")
        assert conn.ws.write_window == 0.0  # the live connection follows
        path.write_text(text.replace("[switch]\n", "[switch]\nwrite_window = 0.5\n"))
        with pytest.raises(AcdError) as err:
            await app.reload("admin1")
        assert err.value.code == "bad_config" and "switch.write_window" in err.value.message
        assert conn.ws.write_window == 0.0
        await sw.close()
    finally:
        await app.stop()


async def test_each_waiting_caller_hears_their_own_place_and_wait(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", announce=0.1)
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        auto_accept(app)
        ready(app, "a2")
        sw = SimSwitch(url(app), "pbx-1", TOKEN, caller=Caller(keys={"menu": "2"}))
        await sw.connect()
        busy = await sw.place("13900000009")  # a2 talks to it: staffed, so the waits are finite
        await until(lambda: busy.state == "connected")
        calls = []
        for i in range(4):
            calls.append(await sw.place(f"1390000001{i}"))
            await until(lambda: calls[-1].state == "queued")
        # announced in the same sweeps: one pass over the queue gives every place
        await until(lambda: all(c.announcements >= 2 for c in calls))
        assert [c.position for c in calls] == [1, 2, 3, 4]
        waits = [c.wait for c in calls]
        assert all(w is not None and w > 0 for w in waits)
        assert waits == sorted(waits) and len(set(waits)) == 4
        ready(app, "a1")  # the first caller is offered: no more announcements for them
        await until(lambda: app.engine.calls[calls[0].id].phase is not CallPhase.QUEUED)
        heard = calls[0].announcements
        await until(lambda: all(c.position == i for i, c in enumerate(calls[1:], 1)))
        assert calls[0].announcements == heard
        await sw.close()
    finally:
        await app.stop()


async def test_announcements_no_longer_owed_are_compacted_away(tmp_path: Path) -> None:
    path = write_center(tmp_path / "c", announce=30.0)
    app, _ = await start_app(settings_at(path), tmp_path / "d")
    try:
        link = app.component("switch")
        legs = [Leg(f"c{i}", "pbx-1", "13900000002", "10086", "", 0.0) for i in range(3000)]
        for leg in legs:
            link.legs[leg.id] = leg
            link._schedule_announce(leg, "general")
        for leg in legs[:2900]:
            link._stop_announce(leg)  # answered before their first announcement
        assert len(link._announcing) == 3000 and link._owed_announcements == 100
        link._announcements_due(0.0)  # nothing due yet: the stale entries go
        assert sorted(cid for _, cid in link._announcing) == sorted(x.id for x in legs[2900:])
        assert link._owed_announcements == 100
        for leg in legs:
            del link.legs[leg.id]
    finally:
        await app.stop()
