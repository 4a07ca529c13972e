"""A lean websocket client connection for load generators: one object per connection, no task.

The opening handshake and every control frame (ping, pong, close) and fragmented message go
through websockets' sans-I/O `ClientProtocol`, so they follow RFC 6455 as websockets does. The
hot path is done here: a whole unfragmented data frame from the server (the only kind the
ACD's servers send) is cut out of the read buffer in `data_received` and handed to `frame()`
as bytes; frames to the server are masked (RFC 6455 §5.3, keys from `os.urandom`) and written
once per connection and loop turn. What is on the wire is exactly what websockets would send
and accept; what is saved is the per-frame generator parsing, assembler, future and task of
websockets' asyncio connection (about 10 µs a frame received and 5 µs a frame sent).

    class Desk(LeanSocket):
        def frame(self, payload: bytes) -> None: ...

    desk = Desk()
    await desk.open("ws://127.0.0.1:8765/agent")
    desk.send_frame(b"...")
    await desk.close()
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the pure-Python build of websockets
    from websockets.utils import apply_mask

_FIN_BINARY = 0x82
_FIN_TEXT = 0x81
_KEYS = 4096  # bytes of mask keys drawn from os.urandom at a time


class _Keys:
    """Masking keys from the OS's strong source, drawn in blocks (one system call per 1,024)."""

    def __init__(self) -> None:
        self.pool = b""
        self.pos = 0

    def take(self) -> bytes:
        pos = self.pos
        if pos + 4 > len(self.pool):
            self.pool, pos = os.urandom(_KEYS), 0
        self.pos = pos + 4
        return self.pool[pos : pos + 4]


_keys = _Keys()


class _Flusher:
    """Writes every connection's frames of a loop turn at the end of the turn: one write per
    connection, however many frames it sent in the turn."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.dirty: list[LeanSocket] = []
        self.armed = False

    def add(self, sock: LeanSocket) -> None:
        self.dirty.append(sock)
        if not self.armed:
            self.armed = True
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        self.armed = False
        dirty, self.dirty = self.dirty, []
        for sock in dirty:
            sock._flush()


_flushers: dict[asyncio.AbstractEventLoop, _Flusher] = {}


def _flusher() -> _Flusher:
    loop = asyncio.get_running_loop()
    f = _flushers.get(loop)
    if f is None:
        _flushers.clear()  # one loop at a time in a load generator; drop closed ones
        f = _flushers[loop] = _Flusher(loop)
    return f


def encode_frame(payload: bytes, text: bool = False) -> bytes:
    """One masked, unfragmented data frame from a client (RFC 6455 §5.2)."""
    n = len(payload)
    first = _FIN_TEXT if text else _FIN_BINARY
    if n < 126:
        head = bytes((first, 0x80 | n))
    elif n < 65536:
        head = bytes((first, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((first, 0xFF)) + n.to_bytes(8, "big")
    key = _keys.take()
    return head + key + apply_mask(payload, key)


class LeanSocket(asyncio.Protocol):
    """A websocket client connection driven by callbacks: override `frame()` (a whole data
    message from the server) and, if needed, `lost()` (the connection is gone)."""

    __slots__ = (
        "_buf",
        "_closed",
        "_flush_to",
        "_opened",
        "_out",
        "_parts",
        "_refused",
        "proto",
        "transport",
    )

    def __init__(self) -> None:
        self.proto: ClientProtocol | None = None
        self.transport: asyncio.Transport | None = None
        self._buf = b""
        self._out: list[bytes] = []
        self._parts: list[bytes] | None = None  # a fragmented message being put together
        self._opened: asyncio.Future[None] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._flush_to: _Flusher | None = None
        self._refused = False  # the handshake's response is not an upgrade

    # -------------------------------------------------------------- what a subclass does

    def frame(self, payload: bytes) -> None:
        """A data message from the server (text frames as their UTF-8 bytes)."""

    def lost(self) -> None:
        """The connection closed (either side) or failed."""

    # -------------------------------------------------------------- opening and closing

    async def open(self, url: str, *, max_size: int = 2**20, timeout: float = 10.0) -> None:
        """Connect and complete the opening handshake (raises on a refused handshake)."""
        loop = asyncio.get_running_loop()
        uri = parse_uri(url)
        self.proto = ClientProtocol(uri, max_size=max_size)
        self._opened = loop.create_future()
        self._closed = loop.create_future()
        self._flush_to = _flusher()
        try:
            async with asyncio.timeout(timeout):
                await loop.create_connection(lambda: self, uri.host, uri.port)
                await self._opened
        except BaseException:
            self.abort()  # no half-open connection left behind a timeout or a refusal
            raise

    @property
    def is_open(self) -> bool:
        """The handshake is done and no close has started."""
        return self.proto is not None and self.proto.state is State.OPEN

    async def close(self, code: int = 1000, timeout: float = 5.0) -> None:
        """The closing handshake; the TCP connection is dropped if it takes over `timeout`."""
        proto, transport = self.proto, self.transport
        if proto is None or transport is None or self._closed is None:
            return
        if proto.state is State.OPEN:
            proto.send_close(code)
            self._write_control()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._closed)
        except TimeoutError:
            transport.abort()

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake."""
        if self.transport is not None:
            self.transport.abort()

    @property
    def closed(self) -> asyncio.Future[None] | None:
        """Resolved once the TCP connection is gone."""
        return self._closed

    # -------------------------------------------------------------- sending

    def send_frame(self, payload: bytes, text: bool = False) -> None:
        """Queue a data frame; the turn's frames leave in one write at the end of the turn.
        Dropped once a close has started (the caller learns it from `lost()`)."""
        proto = self.proto
        if proto is None or proto.state is not State.OPEN:
            return
        out = self._out
        out.append(encode_frame(payload, text))
        if len(out) == 1:
            assert self._flush_to is not None
            self._flush_to.add(self)

    def _flush(self) -> None:
        out = self._out
        if not out:
            return
        self._out = []
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(out[0] if len(out) == 1 else b"".join(out))

    def _write_control(self) -> None:
        """Write what the sans-I/O protocol produced (pongs, close frames, end of stream)."""
        proto, t = self.proto, self.transport
        if proto is None or t is None:
            return
        self._flush()  # data queued before a close frame goes first
        for data in proto.data_to_send():
            if t.is_closing():
                break
            if data:
                t.write(data)
            elif t.can_write_eof():
                t.write_eof()
        if proto.state is State.CLOSED and not t.is_closing():
            t.close()

    # -------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        assert self.proto is not None
        self.proto.send_request(self.proto.connect())
        self._write_control()

    def data_received(self, data: bytes) -> None:
        proto = self.proto
        assert proto is not None
        if self._opened is not None and not self._opened.done():
            self._handshake(data)
            return
        if proto.state is not State.OPEN:
            self._control(data)  # closing: websockets sees the rest through
            return
        buf = self._buf + data if self._buf else data
        n = len(buf)
        i = 0
        limit = proto.max_message_size
        while n - i >= 2:
            b1 = buf[i + 1]
            size = b1 & 0x7F
            head = 2
            if size == 126:
                if n - i < 4:
                    break
                size = int.from_bytes(buf[i + 2 : i + 4], "big")
                head = 4
            elif size == 127:
                if n - i < 10:
                    break
                size = int.from_bytes(buf[i + 2 : i + 10], "big")
                head = 10
            end = i + head + size
            if limit is not None and size > limit:
                self._buf = b""
                self._control(buf[i:])  # websockets fails it (1009) at its header
                return
            if end > n:
                break
            b0 = buf[i]
            if b0 in (_FIN_BINARY, _FIN_TEXT) and not b1 & 0x80 and self._parts is None:
                self.frame(buf[i + head : end])
            else:  # control frames, fragments, anything odd: websockets' parser decides
                self._control(buf[i:end])
                if proto.state is not State.OPEN:
                    self._buf = b""
                    if end < n:
                        self._control(buf[end:])
                    return
            i = end
        self._buf = buf[i:] if i < n else b""

    def _handshake(self, data: bytes) -> None:
        """Feed the HTTP response to websockets. An upgrade (101, no body) is fed up to its
        blank line and no further: the frames that may follow in the same read are parsed
        here, from a frame boundary. A refusal is fed whole, body included."""
        proto = self.proto
        assert proto is not None
        buf = self._buf + data
        if not self._refused:
            end = buf.find(b"\r\n\r\n")
            if end < 0 and len(buf) < 65536:
                self._buf = buf
                return
            self._refused = end < 0 or not buf.startswith(b"HTTP/1.1 101 ")
        cut = len(buf) if self._refused else end + 4
        self._buf = b""
        proto.receive_data(buf[:cut])
        self._handshake_events()
        if proto.state is State.OPEN and cut < len(buf):
            self.data_received(buf[cut:])

    def _handshake_events(self) -> None:
        proto, opened = self.proto, self._opened
        assert proto is not None and opened is not None
        for event in proto.events_received():
            if isinstance(event, Response) and not opened.done():
                if proto.handshake_exc is not None:
                    opened.set_exception(proto.handshake_exc)
                else:
                    opened.set_result(None)
        self._write_control()

    def _control(self, chunk: bytes) -> None:
        proto = self.proto
        assert proto is not None
        proto.receive_data(chunk)
        for event in proto.events_received():
            if isinstance(event, Frame):
                self._data_frame(event)
        self._write_control()

    def _data_frame(self, f: Frame) -> None:
        if f.opcode in (Opcode.TEXT, Opcode.BINARY):
            if f.fin:
                self.frame(bytes(f.data))
            else:
                self._parts = [bytes(f.data)]
        elif f.opcode is Opcode.CONT and self._parts is not None:
            self._parts.append(bytes(f.data))
            if f.fin:
                whole, self._parts = b"".join(self._parts), None
                self.frame(whole)

    def eof_received(self) -> bool | None:
        if self.proto is not None:
            self.proto.receive_eof()
            self._write_control()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._opened is not None and not self._opened.done() and self.proto is not None:
            self.proto.receive_eof()  # a refusal's body may run to the end of the stream
            self._handshake_events()
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        self._out.clear()
        self.lost()

    def close_code(self) -> tuple[int, str]:
        """The close code and reason the server sent (1006 and "" when none)."""
        rcvd = self.proto.close_rcvd if self.proto is not None else None
        return (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "")


Callback = Callable[[bytes], None]


class CallbackSocket(LeanSocket):
    """A LeanSocket that hands each message to a function (and the loss to another)."""

    __slots__ = ("on_frame", "on_lost")

    def __init__(self, on_frame: Callback, on_lost: Callable[[], Any] | None = None) -> None:
        super().__init__()
        self.on_frame = on_frame
        self.on_lost = on_lost

    def frame(self, payload: bytes) -> None:
        self.on_frame(payload)

    def lost(self) -> None:
        if self.on_lost is not None:
            self.on_lost()
