"""A websocket connection that hands each message to a callback as it is read.

websockets' own receive path queues every frame in an Assembler, wakes the handler's task
through a future and resumes its `await recv()`: several objects and a loop turn per message.
`LeanConnection` keeps websockets for everything else (handshake, keepalive pings, close
handshakes and their reasons, size limits, protocol errors) but, on a route served with
`serve_messages`, parses complete data frames itself inside `data_received` and calls the
route's callback at once. Outgoing frames are serialised here too and leave in one write per
loop turn (`write_frame`).

What the fast parser takes: complete, masked, unfragmented text or binary frames within the
size limit, and pings and pongs. Anything else (a close frame, a fragment, a bad header, an
oversized frame) hands the rest of the stream to websockets' parser for good, which closes
with its usual code and reason (1002, 1009...). Fragmented messages are then reassembled
here (at most `MAX_FRAGMENTS` fragments, `max_size` bytes in all, as websockets checks).

A callback returns None, or an awaitable when the message needs I/O (a password check):
messages that arrive meanwhile wait, in order, and reading pauses while more than
`max_queue` of them wait. So one connection is never processed out of order and a client
that floods while it waits is held back by TCP, not by memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Final

from websockets.asyncio.server import ServerConnection
from websockets.frames import BINARY, CONT, PONG, TEXT, CloseCode, Frame
from websockets.protocol import Event, State

try:
    from websockets.speedups import apply_mask
except ImportError:  # a build of websockets without its C helpers
    from websockets.utils import apply_mask

Message = str | bytes
OnMessage = Callable[[Message], Awaitable[Any] | None]

MAX_FRAGMENTS: Final = 4096
_OPEN: Final = State.OPEN
_HEAD16: Final = struct.Struct("!BBH")
_HEAD64: Final = struct.Struct("!BBQ")
_NO_LIMIT: Final = 1 << 62


class LeanConnection(ServerConnection):
    """A server connection with a synchronous message path for lean routes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lean = False
        self._fast = False  # parsing data frames here (False once websockets' parser took over)
        self._rbuf = bytearray()  # a partial frame
        self._need = 0  # bytes the partial frame needs before it can be parsed
        self._handler: OnMessage | None = None
        # Messages waiting for a busy handler; made when first needed (an idle deque is 760 B,
        # and thousands of desktops rarely have any).
        self._inbox: deque[Message] | None = None
        self._busy: asyncio.Future[Any] | None = None
        self._reading_paused = False
        self._discarding = False
        self._failure: BaseException | None = None
        self._stopped: asyncio.Future[None] = self.loop.create_future()
        self._fragments: list[Frame] = []
        self._out: list[bytes] = []
        self._flush_soon = False
        # Seconds between writes while frames keep coming (0: every loop turn); see write_frame.
        self.write_window = 0.0
        self._wrote_at = -1.0  # loop time of the last windowed write
        self._ka_timer: asyncio.TimerHandle | None = None  # the next ping, or its deadline
        self._ka_data: bytes | None = None  # the keepalive ping waiting for its pong
        self._ka_sent = 0.0
        self._abort_timer: asyncio.TimerHandle | None = None
        high = self.max_queue_high
        self._high = high if high is not None else _NO_LIMIT
        low = self.max_queue_low
        self._low = low if low is not None else self._high // 4

    # ---------------------------------------------------------------- set up

    def use_lean_path(self) -> None:
        """Route this connection's messages to `serve_messages` (called during the handshake,
        before any frame is read)."""
        self.lean = True
        # websockets' parser must be at rest (nothing buffered) for this side to take over.
        self._fast = not self.protocol.reader.buffer

    async def serve_messages(self, handler: OnMessage) -> None:
        """Call `handler` with every message until the connection closes.

        Returns once the connection is closed and the last awaitable the handler returned is
        done; raises what the handler raised, after which no message is delivered.
        """
        assert self.lean, "the route was not registered as lean"
        self._handler = handler
        self._pump()
        await asyncio.shield(self._stopped)
        while self._busy is not None:
            await asyncio.wait([self._busy])
        if self._failure is not None:
            raise self._failure

    def stop_messages(self) -> None:
        """Deliver nothing more (the connection is being closed by this side)."""
        self._discarding = True
        self._inbox = None
        if self._reading_paused:  # the peer's close frame must still be read
            self._reading_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()

    # ---------------------------------------------------------------- receiving

    def data_received(self, data: bytes) -> None:
        """Parse whole data frames here; everything else goes to websockets."""
        if not self._fast or self.protocol.state is not _OPEN:
            if self._rbuf:  # closing with a partial frame held here: websockets takes it all
                data = bytes(self._rbuf) + data
                self._rbuf = bytearray()
            self._fast = False
            self._websockets_data(data)
            return
        rbuf = self._rbuf
        if rbuf:
            rbuf += data
            if len(rbuf) < self._need:
                return
            buf = bytes(rbuf)
            rbuf.clear()
        else:
            buf = data
        end = len(buf)
        pos = 0
        need = 0
        limit = self.protocol.max_message_size
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            opcode = b0 & 0x0F
            length = b1 & 0x7F
            # FIN, no RSV bits, masked (a client's frames always are), text or binary,
            # or a ping/pong small enough to be a control frame.
            if (
                b0 & 0xF0 != 0x80
                or not b1 & 0x80
                or not (opcode == 1 or opcode == 2 or opcode == 9 or opcode == 10)
                or (opcode > 2 and length > 125)
            ):
                self._to_websockets(buf[pos:])
                return
            head = pos + 2
            if length == 126:
                if end - pos < 4:
                    break
                length = (buf[head] << 8) | buf[head + 1]
                head += 2
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buf[head : head + 8], "big")
                head += 8
            if limit is not None and length > limit:
                self._to_websockets(buf[pos:])  # it closes with 1009 and says why
                return
            stop = head + 4 + length
            if stop > end:
                need = stop - pos
                break
            payload = apply_mask(buf[head + 4 : stop], buf[head : head + 4])
            pos = stop
            if opcode == 1 or opcode == 2:
                if not self._deliver_data(payload, opcode == 2):
                    return
            elif opcode == 9:
                self.protocol.send_pong(payload)
                self.send_data()
            else:
                self._pong(payload)
            if self.protocol.state is not _OPEN:  # a handler closed or failed it
                self._fast = False
                if pos < end:
                    self._websockets_data(buf[pos:])
                return
        if pos < end:
            rbuf += buf[pos:]
            # a partial header needs one more byte at least; a partial payload, all of it
            self._need = max(need, len(rbuf) + 1)

    def _to_websockets(self, rest: bytes) -> None:
        """Give the stream to websockets' parser from here on."""
        self._fast = False
        self._rbuf = bytearray()
        self._websockets_data(rest)

    def process_event(self, event: Event) -> None:
        """Frames websockets parsed on a lean route: messages (also fragmented) and pongs."""
        if not self.lean or not isinstance(event, Frame) or self.request is None:
            super().process_event(event)
            return
        opcode = event.opcode
        if opcode is PONG:
            self._pong(bytes(event.data))
            return
        if opcode is TEXT or opcode is BINARY:
            if not event.fin:
                self._fragments = [event]
                return
            frames = [event]
        elif opcode is CONT:
            self._fragments.append(event)
            if not event.fin:
                if len(self._fragments) > MAX_FRAGMENTS:
                    self._fragments = []
                    self._fail(CloseCode.MESSAGE_TOO_BIG, "message has too many fragments")
                return
            frames, self._fragments = self._fragments, []
        else:
            return  # ping (websockets answered it) and close
        self._deliver_data(b"".join(f.data for f in frames), frames[0].opcode is BINARY)

    def _deliver_data(self, data: bytes, binary: bool) -> bool:
        """Deliver a whole message; text that is not UTF-8 fails the connection (False)."""
        if binary:
            self._deliver(data)
            return True
        try:
            text = data.decode()
        except UnicodeDecodeError as exc:
            self._fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
            return False
        self._deliver(text)
        return True

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection as websockets does for a protocol error: a close frame, the end
        of the stream, and the socket dropped if the peer does not close it in time."""
        self._fast = False
        self._rbuf = bytearray()
        self.protocol.fail(code, reason)
        self.send_data()
        if self.close_deadline is None and self.close_timeout is not None:
            self.close_deadline = self.loop.time() + self.close_timeout
        self._arm_abort()

    def _websockets_data(self, data: bytes) -> None:
        """Feed websockets' parser; if that starts closing, hold it to the close timeout."""
        super().data_received(data)
        if self.close_deadline is not None:
            self._arm_abort()

    def _arm_abort(self) -> None:
        """Drop the socket at the close deadline if the peer has not closed it by then.
        (websockets does this in `send_context`, which a lean route's reads never enter.)"""
        if self._abort_timer is None and self.close_deadline is not None:
            self._abort_timer = self.loop.call_at(self.close_deadline, self._abort)

    def _abort(self) -> None:
        if not self.connection_lost_waiter.done():
            self.transport.abort()

    # ---------------------------------------------------------------- keepalive

    def start_keepalive(self) -> None:
        """On a lean route, keepalive pings run on one timer handle (no task, no coroutine):
        a ping every `ping_interval`, and a pong due within `ping_timeout` or the connection
        fails with 1011 "keepalive ping timeout", as websockets' own keepalive does."""
        if not self.lean or self.ping_interval is None:
            super().start_keepalive()
            return
        self._ka_timer = self.loop.call_later(self.ping_interval, self._ka_ping)

    def _ka_ping(self) -> None:
        self._ka_timer = None
        if self.protocol.state is not _OPEN:
            return
        data = struct.pack("!I", random.getrandbits(32))
        self.protocol.send_ping(data)
        self.send_data()
        self._ka_data = data
        self._ka_sent = self.loop.time()
        if self.ping_timeout is not None:
            self._ka_timer = self.loop.call_later(self.ping_timeout, self._ka_timeout)

    def _ka_timeout(self) -> None:
        self._ka_timer = None
        if self.protocol.state is _OPEN:
            self._fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")

    def _pong(self, data: bytes) -> None:
        if self.pending_pings:
            self.acknowledge_pings(data)
        if data != self._ka_data:
            return
        self._ka_data = None
        self.latency = self.loop.time() - self._ka_sent
        if self._ka_timer is not None:
            self._ka_timer.cancel()
        assert self.ping_interval is not None
        self._ka_timer = self.loop.call_later(
            max(0.0, self.ping_interval - self.latency), self._ka_ping
        )

    # ---------------------------------------------------------------- dispatch

    def _deliver(self, msg: Message) -> None:
        if self._discarding or self.protocol.state is not _OPEN:
            return
        if self._busy is not None or self._handler is None:
            inbox = self._inbox
            if inbox is None:
                inbox = self._inbox = deque()
            inbox.append(msg)
            if len(inbox) > self._high and not self._reading_paused:
                self._reading_paused = True
                self.transport.pause_reading()
            return
        self._call(self._handler, msg)

    def _call(self, handler: OnMessage, msg: Message) -> None:
        try:
            pending = handler(msg)
        except Exception as exc:
            self._crash(exc)
            return
        if pending is not None:
            busy = self._busy = asyncio.ensure_future(pending)
            busy.add_done_callback(self._done)

    def _done(self, busy: asyncio.Future[Any]) -> None:
        self._busy = None
        if not busy.cancelled() and busy.exception() is not None:
            self._crash(busy.exception())  # type: ignore[arg-type]
            return
        self._pump()

    def _pump(self) -> None:
        """Deliver what waited, until the handler is busy again."""
        inbox, handler = self._inbox, self._handler
        if inbox is None:
            return
        while inbox and handler is not None and self._busy is None and not self._discarding:
            self._call(handler, inbox.popleft())
        if not inbox and self._inbox is inbox:
            self._inbox = None
        if self._reading_paused and len(inbox) <= self._low and not self._stopped.done():
            self._reading_paused = False
            self.transport.resume_reading()

    def _crash(self, exc: BaseException) -> None:
        """The handler raised: deliver nothing more and let `serve_messages` raise it."""
        self.stop_messages()
        if self._failure is None:
            self._failure = exc
        if not self._stopped.done():
            self._stopped.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        """Messages that did not get their turn are dropped with the peer."""
        super().connection_lost(exc)
        self._inbox = None
        if self._ka_timer is not None:
            self._ka_timer.cancel()
            self._ka_timer = None
        if self._abort_timer is not None:
            self._abort_timer.cancel()
            self._abort_timer = None
        if not self._stopped.done():
            self._stopped.set_result(None)

    # ---------------------------------------------------------------- sending

    def write_frame(self, data: bytes, text: bool) -> bool:
        """Send one unfragmented frame; it leaves with the rest of this loop turn's frames in
        one write. False when the connection is not open.

        With a `write_window`, a frame that comes within the window after the last write waits
        for the window's end and leaves with every frame written meanwhile; a frame on a quiet
        connection still leaves at the end of its turn. On loopback a write costs more CPU
        than the frames it carries, so a busy link with many calls saves most of its writes
        for at most a window's delay.
        """
        protocol = self.protocol
        if protocol.state is not _OPEN or protocol.expect_continuation_frame:
            return False
        n = len(data)
        op = 0x81 if text else 0x82
        if n < 126:
            head = bytes((op, n))
        elif n < 65536:
            head = _HEAD16.pack(op, 126, n)
        else:
            head = _HEAD64.pack(op, 127, n)
        out = self._out
        out.append(head)
        if n:  # an empty chunk would read as the end of the stream in send_data
            out.append(data)
        if not self._flush_soon:
            self._flush_soon = True
            window = self.write_window
            if window:
                at = self._wrote_at + window
                if at > self.loop.time():
                    self.loop.call_at(at, self._flush)
                    return True
            self.loop.call_soon(self._flush)
        return True

    def _flush(self) -> None:
        self._flush_soon = False
        if self.write_window:
            self._wrote_at = self.loop.time()
        if self._out:
            self.send_data()

    def send_data(self) -> None:
        """Write this turn's frames, then websockets' own (pongs, close), in order."""
        chunks = self.protocol.data_to_send()
        if self._out:
            chunks = self._out + chunks
            self._out = []
        if not chunks:
            return
        transport = self.transport
        if transport.is_closing():
            return
        run: list[bytes] = []
        for chunk in chunks:
            if chunk:
                run.append(chunk)
                continue
            if run:
                transport.write(b"".join(run))
                run = []
            # The end of the stream: half-close as websockets does.
            if transport.can_write_eof():
                # uvloop may raise RuntimeError; the socket closes anyway
                with contextlib.suppress(Exception):
                    transport.write_eof()
            else:
                transport.close()
        if run:
            transport.write(b"".join(run) if len(run) > 1 else run[0])
