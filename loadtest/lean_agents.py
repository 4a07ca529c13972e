"""Lean simulated desktops: the agent protocol on `loadtest.lean_ws`, one object per desktop.

A `LeanAgent` is the desktop and its connection at once: no reader task, no future per
request once signed in, frames parsed in `data_received`. It speaks exactly the protocol of
`agent_gateway.messages` (the same MessagePack frames `AgentClient` sends and reads: hello,
sign-in, requests with ids, pushes in seq order); only the bookkeeping is lighter: a reply
after sign-in is counted (ok or its error code) rather than resolving a future, since the
simulated agents never wait on one. The behaviour is `SimFleet`'s, unchanged.

    fleet = LeanFleet("ws://127.0.0.1:8765/agent", Behaviour(think=0.2, aht=30))
    await fleet.start([("1001", "secret"), ...])
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import msgspec

from agent_gateway import messages as m
from agent_gateway.client import RequestError
from agent_gateway.framing import Error, Ok
from loadtest.lean_ws import LeanSocket
from loadtest.sim_agents import Desk, SimFleet

_DECODE: Any = msgspec.msgpack.Decoder(Ok | Error | m.AnyPush)
_ENCODE = msgspec.msgpack.Encoder().encode
_Offer, _CallChanged, _WrapUpStarted, _StateChanged = (
    m.Offer,
    m.CallChanged,
    m.WrapUpStarted,
    m.StateChanged,
)


class LeanAgent(LeanSocket):
    """One simulated desktop on a lean connection (see the module docstring)."""

    __slots__ = ("_ids", "_waiting", "aid", "fleet", "last_seq", "secret", "talking")

    def __init__(self, fleet: SimFleet, aid: str, secret: str) -> None:
        super().__init__()
        # SimFleet's behaviour is annotated for SimAgent; a LeanAgent stands in for one (Desk)
        self.fleet: Any = fleet
        self.aid = aid
        self.secret = secret
        self.talking = ""
        self.last_seq = 0
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] | None = {}  # None once signed in

    async def start(self) -> None:
        """Connect, say hello, sign in and go ready (awaiting each reply)."""
        async with self.fleet.opening:
            await self.open(self.fleet.url, max_size=2**20)
        await self.request(m.Hello(id=0, version=m.VERSION, client="acd-loadtest"))
        res = await self.request(m.SignIn(id=0, agent_id=self.aid, secret=self.secret))
        # the sign-in's snapshot covers every push up to its seq
        self.last_seq = max(self.last_seq, int(res["seq"]))
        await self.request(m.Ready(id=0))
        self._waiting = None

    async def request(self, msg: m.Request, timeout: float = 10.0) -> Any:
        """Send a request and wait for its result (RequestError on an error reply)."""
        assert self._waiting is not None, "only while starting"
        msg.id = rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        self.send_frame(_ENCODE(msg))
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._waiting.pop(rid, None)

    def send(self, msg: m.Request) -> None:
        """Send a request; its reply is counted by the fleet (`SimFleet.replied`)."""
        msg.id = next(self._ids)
        self.send_frame(_ENCODE(msg))

    def frame(self, payload: bytes) -> None:
        msg = _DECODE.decode(payload)
        kind = type(msg)
        if kind is Ok or kind is Error:
            waiting = self._waiting
            if waiting is not None:
                fut = waiting.pop(msg.id, None)
                if fut is not None and not fut.done():
                    if kind is Ok:
                        fut.set_result(msg.result)
                    else:
                        fut.set_exception(RequestError(msg.code, msg.message, msg.details))
                    return
            self.fleet.replied(msg.code if kind is Error else None)
            return
        if msg.seq <= self.last_seq:
            return  # covered by the sign-in's snapshot
        self.last_seq = msg.seq
        fleet = self.fleet
        if kind is _Offer:
            fleet.stats.latencies.append(time.time() - msg.at)
            fleet.stats.offers += 1
            fleet.on_offer(self, msg)
        elif kind is _CallChanged:
            if msg.event == "connected":
                fleet.on_connected(self, msg.call_id)
        elif kind is _WrapUpStarted:
            fleet.on_wrap_up(self)
        elif kind is _StateChanged:
            fleet.on_state(self, msg)

    def lost(self) -> None:
        waiting = self._waiting
        if waiting:
            for fut in waiting.values():
                if not fut.done():
                    fut.set_exception(RequestError("closed", "connection closed"))
            waiting.clear()


class LeanFleet(SimFleet):
    """A SimFleet of lean desktops."""

    def make_agent(self, aid: str, secret: str) -> Desk:
        return LeanAgent(self, aid, secret)
