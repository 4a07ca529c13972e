"""Bad frames, floods and slow readers: typed errors or a close with a reason, while every
other session goes on and nothing in the core changes."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import msgspec
import websockets
from agent_fixture import call, desktop, make_settings, running, secret, switch_answers, url
from hypothesis import given, settings
from hypothesis import strategies as st

from acd import events as ev
from agent_gateway import messages as m
from agent_gateway.client import AgentClient, FrameErrorPush
from agent_gateway.framing import Codec, FrameError

CODEC: Codec[m.AnyRequest] = Codec(m.REQUESTS)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_decoder_fuzz_gives_a_message_or_a_typed_error(frame: bytes | str) -> None:
    try:
        msg = CODEC.decode(frame)
    except FrameError as err:
        assert err.code in {"bad_frame", "bad_message", "unknown_type"}
    else:
        assert isinstance(msg, m.REQUESTS)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["type", "id", "call_id", "reason", "target", "state", "code", "x"]),
        st.one_of(
            st.sampled_from([t.__struct_config__.tag for t in m.REQUESTS]),
            st.integers(min_value=-(2**63), max_value=2**63 - 1),
            st.text(max_size=5),
            st.none(),
            st.booleans(),
        ),
    )
)
def test_decoder_fuzz_over_message_shapes(raw: dict[str, object]) -> None:
    for frame in (msgspec.json.encode(raw).decode(), msgspec.msgpack.encode(raw)):
        try:
            CODEC.decode(frame)
        except FrameError as err:
            assert err.code in {"bad_frame", "bad_message", "unknown_type"}


async def _error(c: AgentClient) -> FrameErrorPush:
    push: FrameErrorPush = await c.next_push(FrameErrorPush)
    return push


async def test_bad_frames_get_typed_errors(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        c = await desktop(app, "a1")
        await c.send_raw(b"\xc1\xff garbage")
        assert (await _error(c)).code == "bad_frame"
        await c.send_raw("{not json")
        assert (await _error(c)).code == "bad_frame"
        await c.send_raw("[1, 2]")
        assert (await _error(c)).code == "bad_message"
        await c.send_raw(msgspec.msgpack.encode({"type": "teleport"}))
        assert (await _error(c)).code == "unknown_type"
        # a request id is echoed when the frame had one
        fut = c._waiting[77] = asyncio.get_running_loop().create_future()
        await c.send_raw(msgspec.msgpack.encode({"type": "accept", "id": 77}))
        try:
            await fut
        except Exception as err:
            assert getattr(err, "code", "") == "bad_message"
        fut = c._waiting[78] = asyncio.get_running_loop().create_future()
        await c.send_raw(msgspec.msgpack.encode({"type": "not_ready", "id": 78, "reason": 5}))
        try:
            await fut
        except Exception as err:
            assert getattr(err, "code", "") == "bad_message"
        assert (await c.snapshot()).state == "not_ready"  # the session goes on
        await c.close()


async def test_oversized_frame_closes_with_1009_and_others_go_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(max_frame_bytes=2048), tmp_path) as app:
        good = await desktop(app, "a2")
        c = await desktop(app, "a1")
        await c.send_raw(b"\x00" * 5000)
        code, _reason = await asyncio.wait_for(c.closed, 5)  # type: ignore[arg-type]
        assert code == 1009
        await good.ready()
        assert (await good.snapshot()).state == "ready"
        await good.close()


async def test_flood_is_limited_then_closed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(rate_per_second=5, rate_burst=10), tmp_path) as app:
        good = await desktop(app, "a2")
        c = await desktop(app, "a1")
        frame = msgspec.msgpack.encode({"type": "snapshot", "id": 1})
        for _ in range(200):
            try:
                await c.send_raw(frame)
            except websockets.ConnectionClosed:
                break
        code, reason = await asyncio.wait_for(c.closed, 5)  # type: ignore[arg-type]
        assert code == 1008 and "flood" in reason
        limited = [p for p in c.drain() if isinstance(p, FrameErrorPush)]
        assert limited and all(p.code == "rate_limited" for p in limited)
        assert (await good.snapshot()).state == "not_ready"
        await good.close()


async def test_thousands_of_bad_frames_while_a_good_agent_takes_calls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings_ = make_settings(rate_per_second=1e6, rate_burst=1_000_000)
    async with running(settings_, tmp_path) as app:
        good = await desktop(app, "a2")
        await good.ready()
        bad = await desktop(app, "a1")
        rng = random.Random(3)

        async def spray() -> None:
            for i in range(3000):
                kind = i % 4
                if kind == 0:
                    frame: bytes | str = rng.randbytes(rng.randrange(1, 60))
                elif kind == 1:
                    frame = "{" + "x" * rng.randrange(30)
                elif kind == 2:
                    frame = msgspec.msgpack.encode({"type": "hangup", "id": i, "call_id": i})
                else:
                    frame = msgspec.json.encode(
                        {"type": "accept", "id": i, "call_id": "c0"}
                    ).decode()
                await bad.send_raw(frame)
                if i % 200 == 0:
                    await asyncio.sleep(0)

        async def work() -> int:
            done = 0
            for n in range(10):
                cid = f"c{n}"
                call(app, cid, grp="n")
                offer = await good.next_push(m.Offer)
                await good.accept(offer.call_id)
                switch_answers(app, cid, "a2")
                app.core.submit(ev.AgentLegEnded(cid, "a2"))
                done += 1
            return done

        _, done = await asyncio.gather(spray(), work())
        assert done == 10
        assert app.engine.agents["a1"].state.value == "not_ready"  # nothing changed for a1
        assert (await bad.snapshot()).agent_id == "a1"  # and its session still answers
        await bad.close()
        await good.close()


async def test_a_client_that_stops_reading_is_dropped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(send_queue_frames=10), tmp_path) as app:
        good = await desktop(app, "a2")
        ws = await websockets.connect(url(app), compression=None, max_queue=1)
        await ws.send(msgspec.msgpack.encode({"type": "hello", "id": 1, "version": m.VERSION}))
        await ws.send(
            msgspec.msgpack.encode(
                {"type": "sign_in", "id": 2, "agent_id": "a1", "secret": secret("a1")}
            )
        )
        await asyncio.sleep(0.3)  # signed in; from now on this client reads nothing
        gw = app.component("agents")
        text = "x" * 4000
        for _ in range(3000):
            gw.send_message(["a1", "a2"], "sup", text)  # type: ignore[union-attr]
            s = gw.sessions.get("a1")  # type: ignore[union-attr]
            if s is None or s.channel is None or s.channel.closed:
                break
            await asyncio.sleep(0)
        for _ in range(300):  # the server gives up on the closing handshake and drops it
            s = gw.sessions.get("a1")  # type: ignore[union-attr]
            if s is None or s.channel is None:
                break
            await asyncio.sleep(0.02)
        assert s is None or s.channel is None
        assert (await good.snapshot()).state == "not_ready"
        ws.transport.abort()
        await good.close()


async def _exchange(ws: websockets.ClientConnection, request: dict[str, Any]) -> dict[str, Any]:
    """Send a request; its reply (pushes in between are skipped)."""
    await ws.send(msgspec.msgpack.encode(request))
    while True:
        reply: dict[str, Any] = msgspec.msgpack.decode(await ws.recv())
        if reply["type"] in ("ok", "error") and reply.get("id") == request["id"]:
            return reply


async def test_a_second_hello_is_refused_and_the_session_goes_on(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with (
        running(make_settings(), tmp_path) as app,
        websockets.connect(url(app), compression=None) as ws,
    ):
        hello = {"type": "hello", "id": 1, "version": m.VERSION}
        assert (await _exchange(ws, hello))["type"] == "ok"
        again = await _exchange(ws, {**hello, "id": 2})
        assert again["type"] == "error" and again["code"] == "wrong_state"
        assert again["id"] == 2
        signed = await _exchange(
            ws, {"type": "sign_in", "id": 3, "agent_id": "a1", "secret": secret("a1")}
        )
        assert signed["type"] == "ok"


async def test_while_draining_only_agents_still_signed_in_may_sign_in(tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with running(make_settings(), tmp_path) as app:
        working = await desktop(app, "a1")  # signed in before the drain
        await working.close()
        app.draining = True
        async with websockets.connect(url(app), compression=None) as ws:
            await _exchange(ws, {"type": "hello", "id": 1, "version": m.VERSION})
            refused = await _exchange(
                ws, {"type": "sign_in", "id": 2, "agent_id": "a2", "secret": secret("a2")}
            )
            assert refused["type"] == "error" and refused["code"] == "draining"
        assert app.engine.agents["a2"].state.value == "logged_out"  # nothing changed
        back = await desktop(app, "a1")  # still signed in: it may come back to finish
        assert (await back.snapshot()).agent_id == "a1"
        await back.close()
