"""Wire rules shared by the three websockets (/agent, /admin, /switch).

- Binary frames carry MessagePack, text frames the same messages as JSON; a connection answers
  in the encoding its `hello` used.
- Every message is an object with a `type`. A request carries a client `id` and gets exactly
  one reply: `{"type": "ok", "id": ..., "result": ...}` or
  `{"type": "error", "id": ..., "code": "...", "message": "..."}`. Every server push carries
  `seq`, numbered per session, so a client that reconnects can resume.
- Bad frames get a typed error and the connection goes on; severe abuse (floods, a peer that
  stops reading) ends with a close code and a reason.

The building blocks: `Codec` (typed decoding with stable error codes), `Channel` (ordered,
bounded, non-blocking sends over one connection), `PushLog` (seq numbers and the replay
buffer of a session) and `TokenBucket` (rate limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Final, Generic, TypeVar, Union

import msgspec
import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from acd.wsconn import LeanConnection

log = structlog.get_logger("acd.framing")

M = TypeVar("M")

# Close codes (RFC 6455 and the private 4000-4999 range), with what they mean here.
CLOSE_NORMAL: Final = 1000
CLOSE_GOING_AWAY: Final = 1001  # server shutting down or draining
CLOSE_POLICY: Final = 1008  # flood, unauthenticated too long, abuse
CLOSE_TOO_BIG: Final = 1009  # a frame over the size limit (sent by websockets itself)
CLOSE_SLOW_CONSUMER: Final = 4001  # the peer stopped reading; its send buffer filled
CLOSE_TAKEN_OVER: Final = 4002  # the same identity signed in elsewhere
CLOSE_FORCED: Final = 4003  # signed out by a supervisor, or the session was ended
CLOSE_HELLO_TIMEOUT: Final = 4004

# Protocol-level error codes (the core adds its own: wrong_state, forbidden, unknown_call...).
BAD_FRAME: Final = "bad_frame"  # not MessagePack / JSON at all
BAD_MESSAGE: Final = "bad_message"  # missing or mistyped fields
UNKNOWN_TYPE: Final = "unknown_type"
RATE_LIMITED: Final = "rate_limited"
HELLO_REQUIRED: Final = "hello_required"
UNSUPPORTED_VERSION: Final = "unsupported_version"
UNAUTHENTICATED: Final = "unauthenticated"
INTERNAL: Final = "internal"

RequestId = int | str


class Ok(msgspec.Struct, tag="ok", tag_field="type", omit_defaults=True):
    """The success reply to a request."""

    id: RequestId
    result: Any = None


class Error(msgspec.Struct, tag="error", tag_field="type", omit_defaults=True):
    """The failure reply to a request (or to a frame that was not one)."""

    id: RequestId | None
    code: str
    message: str
    details: dict[str, Any] | None = None


class FrameError(Exception):
    """A frame that could not be turned into a request."""

    def __init__(self, code: str, message: str, request_id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id

    def reply(self) -> Error:
        """The error reply for this frame."""
        return Error(self.request_id, self.code, self.message)


def _tag(t: type) -> str:
    tag = t.__struct_config__.tag  # type: ignore[attr-defined]
    assert isinstance(tag, str), f"{t.__name__} needs a tag"
    return tag


class Codec(Generic[M]):
    """Decode frames into one of a protocol's message types; encode replies and pushes."""

    def __init__(self, types: Iterable[type]) -> None:
        kinds = tuple(types)
        union: Any = Union[kinds]  # noqa: UP007 (a runtime union of classes)
        self._json = msgspec.json.Decoder(union)
        self._msgpack = msgspec.msgpack.Decoder(union)
        self._json_any = msgspec.json.Decoder()
        self._msgpack_any = msgspec.msgpack.Decoder()
        self._json_enc = msgspec.json.Encoder()
        self._msgpack_enc = msgspec.msgpack.Encoder()
        self.tags = frozenset(_tag(t) for t in kinds)

    def decode(self, frame: str | bytes) -> M:
        """The typed message, or FrameError with a stable code."""
        text = isinstance(frame, str)
        try:
            msg: M
            if isinstance(frame, str):
                msg = self._json.decode(frame)
            else:
                msg = self._msgpack.decode(frame)
            return msg
        except msgspec.ValidationError as err:
            raise self._explain(frame, str(err)) from None
        except (msgspec.DecodeError, ValueError) as err:  # ValueError: invalid UTF-8 inside
            kind = "JSON" if text else "MessagePack"
            raise FrameError(BAD_FRAME, f"not valid {kind}: {err}") from None

    def _explain(self, frame: str | bytes, detail: str) -> FrameError:
        try:
            if isinstance(frame, str):
                raw = self._json_any.decode(frame)
            else:
                raw = self._msgpack_any.decode(frame)
        except (msgspec.DecodeError, ValueError):
            return FrameError(BAD_FRAME, detail)
        if not isinstance(raw, dict):
            return FrameError(BAD_MESSAGE, "a message is an object with a 'type'")
        rid = raw.get("id")
        rid = rid if isinstance(rid, int | str) and not isinstance(rid, bool) else None
        kind = raw.get("type")
        if not isinstance(kind, str) or kind not in self.tags:
            known = ", ".join(sorted(self.tags))
            return FrameError(UNKNOWN_TYPE, f"unknown message type {kind!r}; known: {known}", rid)
        return FrameError(BAD_MESSAGE, f"{kind}: {detail}", rid)

    def encode(self, msg: Any, binary: bool) -> bytes:
        """MessagePack for binary connections, JSON (UTF-8 bytes) for text ones."""
        return (self._msgpack_enc if binary else self._json_enc).encode(msg)


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.stamp = now

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Take `cost` tokens if there are enough."""
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


class PushLog:
    """Sequence numbers of a session's pushes and the last ones, kept for resume."""

    __slots__ = ("buffer", "seq")

    def __init__(self, capacity: int) -> None:
        self.seq = 0
        self.buffer: deque[tuple[int, Any]] = deque(maxlen=capacity)

    def next(self) -> int:
        """The seq of the next push."""
        self.seq += 1
        return self.seq

    def keep(self, seq: int, push: Any) -> None:
        """Remember a push for replay."""
        self.buffer.append((seq, push))

    def since(self, acked: int) -> list[Any] | None:
        """Pushes after `acked`, in order; None when some were already dropped (a gap)."""
        if acked >= self.seq:
            return []
        if not self.buffer or self.buffer[0][0] > acked + 1:
            return None
        return [push for seq, push in self.buffer if seq > acked]


class Channel:
    """One websocket: frames go out in order, never blocking the caller.

    While the socket keeps up, a frame goes to the connection at once (no task, no await: one
    connection costs no more than websockets' own) and every frame of the same loop turn
    reaches the socket in one write at the end of the turn (a reply and the pushes it caused:
    one system call instead of several). On a `LeanConnection` the frame is serialised by the
    connection itself (`write_frame`), which also does the end-of-turn write. When the
    transport backs up, frames wait in a bounded queue drained by a writer task that exists
    only while there is a backlog. A peer that stops reading fills the queue; past `limit`
    frames it is closed with CLOSE_SLOW_CONSUMER and everything queued for it is dropped.
    Nobody else waits for it.
    """

    __slots__ = (
        "binary",
        "closed",
        "codec",
        "flushing",
        "lean",
        "limit",
        "on_close",
        "queue",
        "sent",
        "writer",
        "ws",
    )

    # Bytes the transport may hold before frames queue up instead (flow control).
    HIGH_WATER: Final = 64 * 1024

    def __init__(
        self, ws: ServerConnection, codec: Codec[Any], *, binary: bool, limit: int
    ) -> None:
        self.ws = ws
        self.codec = codec
        self.binary = binary
        self.limit = limit
        # Frames waiting for a slow socket; made when first needed (an idle deque is 760 B).
        self.queue: deque[bytes] | None = None
        self.closed = False
        self.sent = 0
        self.on_close: Callable[[], None] | None = None
        self.writer: asyncio.Task[None] | None = None
        self.flushing = False
        self.lean = ws if isinstance(ws, LeanConnection) else None

    def send(self, msg: Any) -> bool:
        """Queue a message; False when the channel is closed or just overflowed."""
        if self.closed:
            return False
        frame = self.codec.encode(msg, self.binary)
        lean = self.lean
        if (  # the common case, inline: a lean connection that keeps up
            lean is not None
            and self.writer is None
            and not lean.paused
            and lean.send_in_progress is None
            and lean.write_frame(frame, not self.binary)
        ):
            self.sent += 1
            return True
        return self.send_frame(frame)

    def send_frame(self, frame: bytes) -> bool:
        """Send an already encoded frame (for sending one push to many channels)."""
        if self.closed:
            return False
        if self.writer is None and self._write_now(frame):
            return True
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        if len(queue) >= self.limit:
            self.close(CLOSE_SLOW_CONSUMER, "send buffer full: the client is not reading")
            return False
        queue.append(frame)
        if self.writer is None:
            self.writer = asyncio.get_running_loop().create_task(self._write())
        return True

    def _write_now(self, frame: bytes) -> bool:
        """Write straight to the transport when nothing is backed up."""
        ws = self.ws
        lean = self.lean
        if lean is not None:
            # `paused` covers HIGH_WATER: the transport pauses writing above websockets'
            # write limit (32 KiB), which is lower.
            if (
                lean.paused
                or lean.send_in_progress is not None
                or not lean.write_frame(frame, not self.binary)
            ):
                return False
            self.sent += 1
            return True
        if (
            ws.protocol.state is not State.OPEN
            or ws.paused
            or ws.send_in_progress is not None
            or ws.transport.get_write_buffer_size() > self.HIGH_WATER
        ):
            return False
        try:
            if self.binary:
                ws.protocol.send_binary(frame)
            else:
                ws.protocol.send_text(frame)
        except Exception:  # the protocol refused: let the writer report it
            return False
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().call_soon(self._flush)
        self.sent += 1
        return True

    def _flush(self) -> None:
        """Write what this turn queued in the protocol, in one transport write."""
        self.flushing = False
        ws = self.ws
        chunks = ws.protocol.data_to_send()
        if not chunks:
            return  # websockets' own send flushed them already
        transport = ws.transport
        if transport.is_closing():
            return
        data = b"".join(chunks)
        if data:
            transport.write(data)
        if not all(chunks):  # an end-of-stream marker: as websockets' send_data does
            if transport.can_write_eof():
                with contextlib.suppress(Exception):
                    transport.write_eof()
            else:
                transport.close()

    async def _write(self) -> None:
        ws, queue, text = self.ws, self.queue, not self.binary
        assert queue is not None  # made before this writer was started
        try:
            while queue and not self.closed:
                frame = queue.popleft()
                await ws.send(frame, text=text)
                self.sent += 1
        except ConnectionClosed:
            self.closed = True
            queue.clear()
        finally:
            self.writer = None

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Close the connection with a code and a reason (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.queue = None
        if self.lean is not None:
            self.lean.stop_messages()  # what the peer sends from now on is not read
        if self.writer is not None:
            self.writer.cancel()
            self.writer = None
        asyncio.get_running_loop().create_task(self._close(code, reason))
        if self.on_close is not None:
            self.on_close()

    async def _close(self, code: int, reason: str) -> None:
        ws = self.ws
        try:
            # A peer that stops reading never takes the close frame: do not wait for it
            # longer than the connection's close timeout, then drop the socket.
            await asyncio.wait_for(ws.close(code, reason[:120]), ws.close_timeout or 10)
        except TimeoutError:
            ws.transport.abort()
        except Exception:  # the transport may already be gone
            log.debug("close failed", code=code)

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait until everything queued was written (or the timeout)."""
        deadline = time.monotonic() + timeout
        while (self.queue or self.writer) and not self.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
