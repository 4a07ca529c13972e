"""The lean websocket path (acd.wsconn) on a real server: what websockets' own path did must
still hold (order, limits, close codes and reasons, keepalive, fragments, flow control)."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from acd.server import WebServer
from acd.settings import ServerSettings
from acd.wsconn import LeanConnection, Message

LIMITS = replace(ServerSettings(), max_frame_bytes=100_000, close_timeout=1.0)


class Echo:
    """A lean route that records every message and echoes it; `slow:` messages take a while
    (an awaitable), `boom` raises, `close` closes from this side."""

    def __init__(self) -> None:
        self.got: list[Message] = []
        self.conns: list[LeanConnection] = []
        self.ended: list[BaseException | None] = []
        self.release = asyncio.Event()

    async def serve(self, ws: Any) -> None:
        assert isinstance(ws, LeanConnection)
        self.conns.append(ws)
        try:
            await ws.serve_messages(lambda msg: self.on_message(ws, msg))
        except Exception as exc:
            self.ended.append(exc)
            raise
        self.ended.append(None)

    def on_message(self, ws: LeanConnection, msg: Message) -> Awaitable[None] | None:
        self.got.append(msg)
        if msg == "boom":
            raise RuntimeError("boom")
        if msg == "close":
            ws.stop_messages()
            asyncio.get_running_loop().create_task(ws.close(4003, "closed by the route"))
            return None
        if isinstance(msg, str) and msg.startswith("slow:"):
            return self._slow(ws, msg)
        data = msg.encode() if isinstance(msg, str) else msg
        ws.write_frame(data, isinstance(msg, str))
        return None

    async def _slow(self, ws: LeanConnection, msg: str) -> None:
        await self.release.wait()
        ws.write_frame(msg.encode(), True)


@pytest.fixture
async def server() -> AsyncIterator[tuple[WebServer, Echo]]:
    echo = Echo()
    web = WebServer("127.0.0.1", 0, LIMITS)
    web.ws_route("/lean", echo.serve, lean=True)
    await web.start()
    try:
        yield web, echo
    finally:
        await web.stop()


def url(web: WebServer) -> str:
    return f"ws://127.0.0.1:{web.port}/lean"


async def test_messages_arrive_in_order_and_are_echoed(server: tuple[WebServer, Echo]) -> None:
    web, echo = server
    sent: list[Message] = [f"m{i}" if i % 2 else bytes([i % 256]) * (i * 7) for i in range(300)]
    sent += ["x" * 200, b"y" * 70_000]  # 16-bit and 64-bit length headers
    async with connect(url(web), max_size=None) as ws:
        for msg in sent:
            await ws.send(msg)  # many land in one read on the server
        got = [await ws.recv() for _ in sent]
    assert got == sent
    assert echo.got == sent


async def test_fragmented_messages_are_put_together(server: tuple[WebServer, Echo]) -> None:
    web, echo = server
    async with connect(url(web)) as ws:
        await ws.send(["frag", "men", "ted"])
        await ws.send([b"\x01", b"\x02\x03"])
        await ws.send("whole")
        assert [await ws.recv() for _ in range(3)] == ["fragmented", b"\x01\x02\x03", "whole"]
    assert echo.got == ["fragmented", b"\x01\x02\x03", "whole"]


async def test_an_oversized_frame_closes_with_1009_and_a_reason(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    async with connect(url(web), max_size=None) as ws:
        await ws.send("fits")
        assert await ws.recv() == "fits"
        await ws.send(b"z" * (LIMITS.max_frame_bytes + 1))
        with pytest.raises(ConnectionClosed) as err:
            await ws.recv()
    assert err.value.rcvd is not None and err.value.rcvd.code == 1009
    assert "exceeds limit" in err.value.rcvd.reason
    assert echo.got == ["fits"]


async def test_close_handshakes_both_ways_carry_code_and_reason(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    async with connect(url(web)) as ws:
        await ws.close(4000, "bye")
    await asyncio.sleep(0.05)
    assert echo.ended == [None]
    assert echo.conns[0].close_code == 4000 and echo.conns[0].close_reason == "bye"
    async with connect(url(web)) as ws:
        await ws.send("close")
        await ws.send("after the close")  # not delivered: this side stopped reading
        with pytest.raises(ConnectionClosed) as err:
            await ws.recv()
    assert err.value.rcvd is not None
    assert (err.value.rcvd.code, err.value.rcvd.reason) == (4003, "closed by the route")
    assert echo.got == ["close"]


async def test_keepalive_pings_are_answered_both_ways() -> None:
    echo = Echo()
    web = WebServer("127.0.0.1", 0, replace(LIMITS, ping_interval=0.05, ping_timeout=0.5))
    web.ws_route("/lean", echo.serve, lean=True)
    await web.start()
    try:
        async with connect(url(web), ping_interval=None) as ws:
            await asyncio.wait_for(await ws.ping(b"hi"), 2)  # the server's pong
            await asyncio.sleep(0.3)  # several server pings answered by the client
            await ws.send("still here")
            assert await ws.recv() == "still here"
        assert echo.conns[0].latency > 0
    finally:
        await web.stop()


async def test_a_busy_handler_holds_later_messages_and_pauses_reading(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    async with connect(url(web)) as ws:
        await ws.send("slow:1")
        for i in range(400):  # more than max_queue (64) wait
            await ws.send(f"m{i}")
        await asyncio.sleep(0.2)
        conn = echo.conns[0]
        assert echo.got == ["slow:1"]
        assert not conn.transport.is_reading()
        echo.release.set()
        got = [await ws.recv() for _ in range(401)]
        assert got == ["slow:1"] + [f"m{i}" for i in range(400)]
        assert conn.transport.is_reading()


async def test_a_failing_handler_ends_its_connection_only(server: tuple[WebServer, Echo]) -> None:
    web, echo = server
    async with connect(url(web)) as other, connect(url(web)) as ws:
        await ws.send("boom")
        await ws.send("not delivered")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        await other.send("fine")
        assert await other.recv() == "fine"
    assert echo.got == ["boom", "fine"]
    assert any(isinstance(e, RuntimeError) for e in echo.ended)


async def test_stopping_the_server_closes_lean_connections_going_away(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    async with connect(url(web)) as ws:
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await web.stop()
        with pytest.raises(ConnectionClosed) as err:
            await ws.recv()
    assert err.value.rcvd is not None and err.value.rcvd.code == 1001
    assert echo.ended == [None]


# ------------------------------------------------------------ raw frames over a plain socket


async def raw_open(web: WebServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", web.port)
    writer.write(
        b"GET /lean HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101")
    return reader, writer


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True) -> bytes:
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    mask_bit = 0x80 if masked else 0
    if n < 126:
        head = bytes((b0, mask_bit | n))
    elif n < 65536:
        head = struct.pack("!BBH", b0, mask_bit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mask_bit | 127, n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    b0, b1 = await reader.readexactly(2)
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    return b0 & 0x0F, await reader.readexactly(n)


async def test_frames_split_at_every_byte_are_put_together(server: tuple[WebServer, Echo]) -> None:
    web, echo = server
    reader, writer = await raw_open(web)
    stream = frame(1, b"first") + frame(2, b"\x00" * 300) + frame(9, b"pi") + frame(1, b"last")
    for i in range(len(stream)):
        writer.write(stream[i : i + 1])
        await writer.drain()
        if i % 50 == 0:
            await asyncio.sleep(0.001)  # let reads end inside headers and payloads
    replies = [await read_frame(reader) for _ in range(4)]
    assert replies == [(1, b"first"), (2, b"\x00" * 300), (10, b"pi"), (1, b"last")]
    assert echo.got == ["first", b"\x00" * 300, "last"]
    writer.close()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(1, b"\xff\xfe"), 1007),  # text that is not UTF-8
        (frame(1, b"plain", masked=False), 1002),  # a client must mask
        (frame(3, b"?"), 1002),  # a reserved opcode
        (frame(9, b"p" * 126), 1002),  # a control frame over 125 bytes
        (frame(0, b"lost"), 1002),  # a continuation with nothing to continue
    ],
    ids=["bad-utf8", "unmasked", "reserved-opcode", "long-control", "stray-continuation"],
)
async def test_protocol_errors_close_with_websockets_codes(
    server: tuple[WebServer, Echo], data: bytes, code: int
) -> None:
    web, echo = server
    reader, writer = await raw_open(web)
    writer.write(frame(1, b"ok") + data + frame(1, b"never"))
    assert await read_frame(reader) == (1, b"ok")
    opcode, payload = await read_frame(reader)
    assert opcode == 8 and struct.unpack("!H", payload[:2])[0] == code
    assert payload[2:], "a reason"
    assert echo.got == ["ok"]
    for _ in range(150):  # this client never closes: the server drops it after close_timeout
        if echo.ended:
            break
        await asyncio.sleep(0.02)
    assert echo.ended == [None]
    writer.close()


async def test_admin_style_routes_keep_websockets_own_path() -> None:
    web = WebServer("127.0.0.1", 0, LIMITS)
    seen: list[Any] = []

    async def plain(ws: Any) -> None:
        async for msg in ws:
            seen.append(msg)
            await ws.send(msg)

    web.ws_route("/plain", plain)
    await web.start()
    try:
        async with websockets.connect(f"ws://127.0.0.1:{web.port}/plain") as ws:
            await ws.send(["a", "b"])
            assert await ws.recv() == "ab"
        assert seen == ["ab"]
    finally:
        await web.stop()


async def test_a_peer_that_ignores_pings_is_failed_and_dropped() -> None:
    echo = Echo()
    limits = replace(LIMITS, ping_interval=0.05, ping_timeout=0.2, close_timeout=0.3)
    web = WebServer("127.0.0.1", 0, limits)
    web.ws_route("/lean", echo.serve, lean=True)
    await web.start()
    try:
        reader, writer = await raw_open(web)  # never answers a ping, never closes
        opcode, payload = await read_frame(reader)
        assert opcode == 9
        opcode, payload = await asyncio.wait_for(read_frame(reader), 2)
        assert opcode == 8 and struct.unpack("!H", payload[:2])[0] == 1011
        assert payload[2:] == b"keepalive ping timeout"
        for _ in range(100):  # the server drops the socket after its close timeout
            if echo.ended:
                break
            await asyncio.sleep(0.02)
        assert echo.ended == [None]
        writer.close()
    finally:
        await web.stop()


async def test_closing_while_reading_is_paused_still_completes_the_handshake(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    async with connect(url(web)) as ws:
        await ws.send("slow:1")
        for i in range(400):
            await ws.send(f"m{i}")
        await asyncio.sleep(0.2)
        conn = echo.conns[0]
        assert not conn.transport.is_reading()
        conn.stop_messages()
        await asyncio.wait_for(conn.close(4000, "enough"), 0.5)  # well within close_timeout
    assert conn.close_code == 4000
    echo.release.set()


async def test_a_frame_split_across_the_start_of_a_close_is_still_read(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    reader, writer = await raw_open(web)
    partial = frame(1, b"x" * 300)
    writer.write(frame(1, b"close") + partial[:100])  # the route closes; half a frame waits
    opcode, payload = await read_frame(reader)
    assert opcode == 8 and struct.unpack("!H", payload[:2])[0] == 4003
    writer.write(partial[100:] + frame(8, payload))  # the rest, then the close echoed back
    await writer.drain()
    for _ in range(100):
        if echo.ended:
            break
        await asyncio.sleep(0.02)
    conn = echo.conns[0]
    assert (conn.close_code, conn.close_reason) == (4003, "closed by the route")
    assert echo.got == ["close"]
    writer.close()


async def test_a_write_window_sends_a_busy_connections_frames_in_one_write(
    server: tuple[WebServer, Echo],
) -> None:
    web, echo = server
    async with connect(url(web)) as c:
        await c.send("hello")
        assert await c.recv() == "hello"
        ws = echo.conns[0]
        writes: list[int] = []  # frames' chunks per write that carried frames
        original = ws.send_data

        def counting() -> None:
            if ws._out:
                writes.append(len(ws._out))
            original()

        ws.send_data = counting  # type: ignore[method-assign]
        ws.write_window = 1.0
        await c.send("quiet")  # nothing written within the window: it leaves at once
        assert await c.recv() == "quiet"
        for word in ("one", "two", "three"):  # within the window of the last write
            await c.send(word)
        assert [await c.recv() for _ in range(3)] == ["one", "two", "three"]
        assert writes == [2, 6]  # head and payload per frame: one write each time
        ws.write_window = 0.0
        await c.send("again")
        assert await c.recv() == "again"
        assert writes == [2, 6, 2]
