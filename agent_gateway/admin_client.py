"""An async client of the /admin socket: typed replies, a stream of wallboard pushes.

Used by `acd wallboard`, the tests and the benchmark.

    async with await AdminClient.connect(url, "sup-mass", secret) as sup:
        await sup.request("force_ready", agent_id="3021")
        await sup.request("subscribe")
        board = await sup.next_push()          # {"type": "wallboard", ...}
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from agent_gateway.admin_messages import VERSION


class AdminError(Exception):
    """An error reply: `code` is the stable machine code."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


class AdminClient:
    """One /admin session."""

    def __init__(self, ws: ClientConnection, *, binary: bool = False) -> None:
        self.ws = ws
        self.binary = binary
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.profile: dict[str, Any] = {}
        self.close_reason: tuple[int | None, str] | None = None
        self._reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def connect(
        cls, url: str, user: str | None = None, secret: str | None = None, *, binary: bool = False
    ) -> AdminClient:
        """Connect, say hello and (when a user is given) sign in."""
        ws = await websockets.connect(url, compression=None, max_size=2**24)
        client = cls(ws, binary=binary)
        await client.request("hello", version=VERSION)
        if user is not None:
            client.profile = await client.request("sign_in", user=user, secret=secret or "")
        return client

    async def __aenter__(self) -> AdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _encode(self, msg: dict[str, Any]) -> str | bytes:
        if self.binary:
            return msgspec.msgpack.encode(msg)
        return msgspec.json.encode(msg).decode()

    async def send_raw(self, frame: str | bytes) -> None:
        """Send a frame as is (tests of bad input)."""
        await self.ws.send(frame)

    async def request(self, kind: str, **fields: Any) -> Any:
        """Send a request and wait for its reply; AdminError on an error reply."""
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self.ws.send(self._encode({"type": kind, "id": rid, **fields}))
        reply = await fut
        if reply["type"] == "error":
            raise AdminError(reply["code"], reply["message"], reply.get("details"))
        return reply.get("result")

    async def next_push(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next push (wallboard, wallboard_delta) or TimeoutError."""
        return await asyncio.wait_for(self.pushes.get(), timeout)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                msg: dict[str, Any] = (
                    msgspec.json.decode(frame)
                    if isinstance(frame, str)
                    else msgspec.msgpack.decode(frame)
                )
                kind = msg.get("type")
                if kind in ("ok", "error") and msg.get("id") in self._waiting:
                    fut = self._waiting.pop(msg["id"])
                    if not fut.done():
                        fut.set_result(msg)
                elif kind == "error":
                    self.pushes.put_nowait(msg)  # an error not tied to a request
                else:
                    self.pushes.put_nowait(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_reason = (self.ws.close_code, self.ws.close_reason or "")
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(f"connection closed {self.close_reason}"))
            self._waiting.clear()

    async def closed(self) -> tuple[int | None, str]:
        """Wait for the server to close; its close code and reason."""
        await self._reader
        assert self.close_reason is not None
        return self.close_reason

    async def close(self) -> None:
        """Close the connection."""
        await self.ws.close()
        await self._reader
