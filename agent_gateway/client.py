"""An asyncio client of the agent protocol: typed calls and an event stream.

    async with AgentClient("ws://127.0.0.1:8765/agent") as c:
        await c.sign_in("3001", "demo-3001")
        await c.ready()
        offer = await c.next_push(m.Offer)
        await c.accept(offer.call_id)

Every request awaits its one reply and returns the result, or raises `RequestError` with the
server's stable code. Pushes arrive in seq order on `next_push()` / `async for`, or on an
`on_push` callback (the lean path simulated agents use). The client remembers the last seq it
saw and its resume token: `reconnect()` resumes the session, and replayed pushes it had
already seen are dropped, so each push is seen once.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, TypeVar

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from agent_gateway import messages as m
from agent_gateway.framing import Error, Ok

P = TypeVar("P", bound=m.Push)

_Incoming = Ok | Error | m.AnyPush

# websockets >= 15 looks up proxy settings in the environment on every connect (costly with
# thousands of simulated desktops); the server is reached directly.
_NO_PROXY: dict[str, Any] = (
    {"proxy": None} if "proxy" in inspect.signature(connect.__init__).parameters else {}
)


class RequestError(Exception):
    """The server answered a request with an error."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class AgentClient:
    """One agent desktop's connection."""

    def __init__(
        self,
        url: str,
        *,
        binary: bool = True,
        on_push: Callable[[m.Push], None] | None = None,
        open_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.binary = binary
        self.on_push = on_push
        self.open_timeout = open_timeout
        self.ws: ClientConnection | None = None
        self.agent_id = ""
        self.token = ""
        self.last_seq = 0
        self.pushes: asyncio.Queue[m.Push] = asyncio.Queue()
        self.closed: asyncio.Future[tuple[int, str]] | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()
        self._enc: Callable[[Any], bytes] = (
            msgspec.msgpack.Encoder().encode if binary else msgspec.json.Encoder().encode
        )
        self._dec: Any = (
            msgspec.msgpack.Decoder(_Incoming) if binary else msgspec.json.Decoder(_Incoming)
        )

    # connection ---------------------------------------------------------------------

    async def connect(self) -> m.HelloResult:
        """Open the socket and say hello."""
        self.ws = await connect(
            self.url,
            compression=None,
            open_timeout=self.open_timeout,
            max_size=2**20,
            ping_interval=None,  # the server pings; pongs are automatic
            **_NO_PROXY,
        )
        self.closed = asyncio.get_running_loop().create_future()
        self._reader = asyncio.get_running_loop().create_task(self._read(self.ws))
        hello = await self.request(m.Hello(id=0, version=m.VERSION, client="acd-client"))
        return msgspec.convert(hello, m.HelloResult)

    async def __aenter__(self) -> AgentClient:
        await self.connect()
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the socket (the session stays resumable on the server for its grace)."""
        ws = self.ws
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._reader, 5)

    def abort(self) -> None:
        """Drop the TCP connection without a closing handshake (a cable pulled)."""
        if self.ws is not None:
            self.ws.transport.abort()

    async def reconnect(self) -> m.SignInResult:
        """A new connection that resumes this session from the last push seen."""
        await self.close()
        await self.connect()
        return await self.resume()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                msg = self._dec.decode(frame)
                kind = type(msg)
                if kind is Ok or kind is Error:
                    fut = self._waiting.pop(msg.id, None)
                    if fut is not None and not fut.done():
                        if kind is Ok:
                            fut.set_result(msg.result)
                        else:
                            fut.set_exception(RequestError(msg.code, msg.message, msg.details))
                    elif kind is Error:  # an error about a frame that was not a request
                        self.pushes.put_nowait(_as_push(msg))
                    continue
                if msg.seq <= self.last_seq:
                    continue  # replayed, seen already
                self.last_seq = msg.seq
                if self.on_push is not None:
                    self.on_push(msg)
                else:
                    self.pushes.put_nowait(msg)
        except ConnectionClosed:
            pass
        finally:
            rcvd = ws.protocol.close_rcvd
            reason = (rcvd.code, rcvd.reason) if rcvd is not None else (1006, "")
            if self.closed is not None and not self.closed.done():
                self.closed.set_result(reason)
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(RequestError("closed", f"connection closed {reason}"))
            self._waiting.clear()

    # requests -----------------------------------------------------------------------

    def send_nowait(self, msg: m.Request) -> asyncio.Future[Any]:
        """Send a request; the future resolves to its reply (lean path: no coroutine)."""
        assert self.ws is not None, "connect first"
        msg.id = rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        self.write(self._enc(msg))
        return fut

    def write(self, frame: bytes) -> None:
        """Write a frame without awaiting: straight to the transport when it keeps up."""
        ws = self.ws
        assert ws is not None
        if ws.protocol.state is not State.OPEN:
            return  # closing: the reader fails the pending reply
        if not ws.paused and ws.send_in_progress is None:
            if self.binary:
                ws.protocol.send_binary(frame)
            else:
                ws.protocol.send_text(frame)
            ws.send_data()
            return
        task = asyncio.get_running_loop().create_task(ws.send(frame, text=not self.binary))
        self._sends.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sends.discard(task)
        if not task.cancelled():
            task.exception()  # a send that met a closing connection is not an error here

    async def request(self, msg: m.Request, timeout: float = 10.0) -> Any:
        """Send a request and return its result, or raise RequestError."""
        assert self.ws is not None, "connect first"
        msg.id = rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        try:
            await self.ws.send(self._enc(msg), text=not self.binary)
        except ConnectionClosed as err:
            self._waiting.pop(rid, None)
            raise RequestError("closed", str(err)) from None
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(rid, None)

    async def send_raw(self, frame: bytes | str) -> None:
        """Send any frame as it is (tests of bad input)."""
        assert self.ws is not None
        await self.ws.send(frame)

    async def sign_in(self, agent_id: str, secret: str, endpoint: str = "") -> m.SignInResult:
        """Sign in; the result carries the resume token and a full snapshot."""
        raw = await self.request(
            m.SignIn(id=0, agent_id=agent_id, secret=secret, endpoint=endpoint)
        )
        res = msgspec.convert(raw, m.SignInResult)
        self.agent_id, self.token = res.agent_id, res.token
        self._covered(res.seq)
        return res

    def _covered(self, seq: int) -> None:
        """The snapshot in a reply reflects every push up to `seq`: drop those queued."""
        self.last_seq = max(self.last_seq, seq)
        kept = [p for p in self.drain() if p.seq > seq]
        for p in kept:
            self.pushes.put_nowait(p)

    async def resume(self) -> m.SignInResult:
        """Take the session back after a reconnect; missed pushes follow the reply."""
        raw = await self.request(m.Resume(id=0, token=self.token, last_seq=self.last_seq))
        res = msgspec.convert(raw, m.SignInResult)
        if res.snapshot is not None:  # the gap was too old: start over from the snapshot
            self._covered(res.seq)
        return res

    async def snapshot(self) -> m.SnapshotResult:
        """The full view of this agent."""
        return msgspec.convert(await self.request(m.Snapshot(id=0)), m.SnapshotResult)

    async def sign_out(self) -> None:
        await self.request(m.SignOut(id=0))

    async def ready(self) -> None:
        await self.request(m.Ready(id=0))

    async def not_ready(self, reason: str) -> None:
        await self.request(m.NotReady(id=0, reason=reason))

    async def set_pending(self, state: m.PendingState | None, reason: str = "") -> None:
        await self.request(m.SetPending(id=0, state=state, reason=reason))

    async def accept(self, call_id: str) -> None:
        await self.request(m.Accept(id=0, call_id=call_id))

    async def reject(self, call_id: str) -> None:
        await self.request(m.Reject(id=0, call_id=call_id))

    async def hangup(self, call_id: str) -> None:
        await self.request(m.Hangup(id=0, call_id=call_id))

    async def hold(self, call_id: str) -> None:
        await self.request(m.Hold(id=0, call_id=call_id))

    async def retrieve(self, call_id: str) -> None:
        await self.request(m.Retrieve(id=0, call_id=call_id))

    async def transfer(self, call_id: str, kind: m.TargetKind, value: str) -> None:
        await self.request(m.Transfer(id=0, call_id=call_id, target=m.Target(kind, value)))

    async def consult_start(self, call_id: str, kind: m.TargetKind, value: str) -> str:
        """Returns the consult leg's call id."""
        res = await self.request(
            m.ConsultStart(id=0, call_id=call_id, target=m.Target(kind, value))
        )
        return str(res["consult_id"]) if isinstance(res, dict) else ""

    async def consult_complete(self, call_id: str) -> None:
        await self.request(m.ConsultComplete(id=0, call_id=call_id))

    async def consult_cancel(self, call_id: str) -> None:
        await self.request(m.ConsultCancel(id=0, call_id=call_id))

    async def conference_add(
        self, call_id: str, kind: m.TargetKind | None = None, value: str = ""
    ) -> str:
        """Call a party to join on answer, or (no target) merge the open consult."""
        target = m.Target(kind, value) if kind is not None else None
        res = await self.request(m.ConferenceAdd(id=0, call_id=call_id, target=target))
        return str(res["consult_id"]) if isinstance(res, dict) else ""

    async def conference_drop(self, call_id: str, party: str) -> None:
        await self.request(m.ConferenceDrop(id=0, call_id=call_id, party=party))

    async def digits(self, call_id: str, digits: str) -> None:
        await self.request(m.Digits(id=0, call_id=call_id, digits=digits))

    async def wrap_up_code(self, code: str, finish: bool = False) -> None:
        await self.request(m.WrapUpCode(id=0, code=code, finish=finish))

    async def finish_wrap_up(self) -> None:
        await self.request(m.FinishWrapUp(id=0))

    async def callback_outcome(self, call_id: str, outcome: str, at: float | None = None) -> None:
        await self.request(
            m.CallbackOutcome(id=0, call_id=call_id, outcome=outcome, at=at)  # type: ignore[arg-type]
        )

    # pushes -------------------------------------------------------------------------

    async def next_push(self, kind: type[P] | None = None, timeout: float = 5.0) -> Any:
        """The next push (of `kind`, skipping others), or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {kind.__name__ if kind else 'push'} in {timeout} s")
            push = await asyncio.wait_for(self.pushes.get(), left)
            if kind is None or isinstance(push, kind):
                return push

    def drain(self) -> list[m.Push]:
        """Every push received and not yet taken."""
        out = []
        while not self.pushes.empty():
            out.append(self.pushes.get_nowait())
        return out

    async def __aiter__(self) -> AsyncIterator[m.Push]:
        while True:
            yield await self.pushes.get()


class FrameErrorPush(m.Push, tag="_error"):
    """A client-side wrapper for an error reply to a frame that carried no request id."""

    code: str
    message: str


def _as_push(err: Error) -> m.Push:
    return FrameErrorPush(code=err.code, message=err.message)
