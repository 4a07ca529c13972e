"""Simulated agents over real websockets: many desktops from one process, lean per agent.

Each agent is a small object driven by callbacks on its connection (no task per agent
besides the client's reader): it signs in, goes ready, accepts offers after a think time
(or lets a share of them ring out, or rejects them), talks for a handle time drawn from an
exponential or lognormal distribution, hangs up, wraps up for the after-call time and goes
ready again; now and then it takes a short not-ready break. Offer latency is measured as the
agent sees it: arrival of the offer frame minus the core's decision time carried in `at`
(same host clock when both run on one machine).

The load test and `bench_agents.py` use it; it speaks exactly the protocol of
`agent_gateway.messages` through `agent_gateway.client.AgentClient`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_gateway import messages as m
from agent_gateway.client import AgentClient

# Opening handshakes in flight at once. One process opens connections faster than a server's
# listen backlog (100 in asyncio) drains while it also signs others in: past it the kernel
# drops SYNs, and each retransmission costs the connection 1, 3, 7 s.
OPENING = 50


@dataclass
class Behaviour:
    """How simulated agents act (seconds)."""

    think: float = 0.3  # mean delay before accepting an offer (exponential)
    aht: float = 180.0  # mean talk time
    handle_dist: str = "exp"  # "exp" or "lognormal" (sigma 0.6)
    acw: float = 10.0  # after-call work before finishing wrap-up (0: none)
    miss_rate: float = 0.0  # share of offers left to ring out or rejected
    reject_share: float = 0.5  # of the missed ones, the share rejected rather than ignored
    not_ready_rate: float = 0.0  # chance after each call of a break
    break_seconds: float = 60.0
    break_reason: str = "break"
    time_scale: float = 1.0  # divide every duration by this (live-mode compression)


@dataclass
class FleetStats:
    """What the fleet saw."""

    offers: int = 0
    accepted: int = 0
    missed: int = 0
    rejected: int = 0
    hangups: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)  # offer push latency, seconds

    def percentile(self, q: float) -> float:
        """The q-quantile of offer latency in milliseconds (nan when none)."""
        if not self.latencies:
            return math.nan
        xs = sorted(self.latencies)
        return 1000.0 * xs[min(len(xs) - 1, int(q * len(xs)))]


class Desk(Protocol):
    """What the fleet's behaviour needs of a desktop (SimAgent, or a lean one)."""

    aid: str
    talking: str

    @property
    def last_seq(self) -> int: ...

    async def start(self) -> None: ...

    def send(self, msg: m.Request) -> None: ...

    async def close(self) -> None: ...


class SimAgent:
    """One simulated desktop."""

    __slots__ = ("aid", "client", "fleet", "secret", "talking")

    def __init__(self, fleet: SimFleet, aid: str, secret: str) -> None:
        self.fleet = fleet
        self.aid = aid
        self.secret = secret
        self.client = AgentClient(fleet.url, on_push=self.on_push)
        self.talking = ""

    @property
    def last_seq(self) -> int:
        """The seq of the last push seen."""
        return self.client.last_seq

    async def close(self) -> None:
        """Close the connection."""
        await self.client.close()

    async def start(self) -> None:
        """Connect, sign in and go ready."""
        async with self.fleet.opening:
            await self.client.connect()
        await self.client.sign_in(self.aid, self.secret)
        await self.client.ready()

    def send(self, msg: m.Request) -> None:
        fut = self.client.send_nowait(msg)
        fut.add_done_callback(self.fleet.count_error)

    def on_push(self, push: m.Push) -> None:
        fleet = self.fleet
        kind = type(push)
        if kind is m.Offer:
            fleet.stats.latencies.append(time.time() - push.at)
            fleet.stats.offers += 1
            fleet.on_offer(self, push)  # type: ignore[arg-type]
        elif kind is m.CallChanged and push.event == "connected":  # type: ignore[attr-defined]
            fleet.on_connected(self, push.call_id)  # type: ignore[attr-defined]
        elif kind is m.WrapUpStarted:
            fleet.on_wrap_up(self)
        elif kind is m.StateChanged:
            fleet.on_state(self, push)  # type: ignore[arg-type]


class SimFleet:
    """N simulated agents against one server."""

    def __init__(self, url: str, behaviour: Behaviour | None = None, seed: int = 1) -> None:
        self.url = url
        self.b = behaviour or Behaviour()
        self.rng = random.Random(seed)
        self.stats = FleetStats()
        self.agents: list[Any] = []  # SimAgent or another Desk (see make_agent)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.opening = asyncio.Semaphore(OPENING)  # see OPENING
        self.measuring = True

    async def start(self, credentials: Iterable[tuple[str, str]], concurrency: int = 100) -> None:
        """Sign every agent in and make it ready, `concurrency` handshakes at a time."""
        self.loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)

        async def one(aid: str, secret: str) -> None:
            async with gate:
                agent = self.make_agent(aid, secret)
                await agent.start()
                self.agents.append(agent)

        await asyncio.gather(*(one(a, s) for a, s in credentials))

    def make_agent(self, aid: str, secret: str) -> Desk:
        """One desktop (a SimAgent here; `loadtest.lean_agents` makes lean ones)."""
        return SimAgent(self, aid, secret)

    async def stop(self) -> None:
        """Close every connection."""
        await asyncio.gather(*(a.close() for a in self.agents), return_exceptions=True)

    # behaviour ----------------------------------------------------------------------

    def _later(self, seconds: float, fn: Any, *args: Any) -> None:
        assert self.loop is not None
        self.loop.call_later(max(0.0, seconds / self.b.time_scale), fn, *args)

    def _draw(self, mean: float) -> float:
        if mean <= 0:
            return 0.0
        if self.b.handle_dist == "lognormal":
            sigma = 0.6
            return self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
        return self.rng.expovariate(1.0 / mean)

    def count_error(self, fut: asyncio.Future[Any]) -> None:
        err = fut.exception() if not fut.cancelled() else None
        self.replied(None if err is None else getattr(err, "code", type(err).__name__))

    def replied(self, code: str | None) -> None:
        """A request was answered: ok (None) or an error with this code."""
        if code is not None:
            self.stats.errors[code] = self.stats.errors.get(code, 0) + 1

    def on_offer(self, agent: SimAgent, offer: m.Offer) -> None:
        b = self.b
        if b.miss_rate and self.rng.random() < b.miss_rate:
            if self.rng.random() < b.reject_share:
                self.stats.rejected += 1
                self._later(self._draw(b.think), agent.send, m.Reject(id=0, call_id=offer.call_id))
            else:
                self.stats.missed += 1  # let it ring out
            return
        self.stats.accepted += 1
        self._later(self._draw(b.think), agent.send, m.Accept(id=0, call_id=offer.call_id))

    def on_connected(self, agent: SimAgent, call_id: str) -> None:
        agent.talking = call_id
        self._later(self._draw(self.b.aht), self._hangup, agent, call_id)

    def _hangup(self, agent: SimAgent, call_id: str) -> None:
        if agent.talking == call_id:
            agent.talking = ""
            self.stats.hangups += 1
            agent.send(m.Hangup(id=0, call_id=call_id))

    def on_wrap_up(self, agent: SimAgent) -> None:
        self._later(self.b.acw, self._after_call, agent, True)

    def on_state(self, agent: SimAgent, st: m.StateChanged) -> None:
        if st.old == "on_call" and st.state == "ready":  # a group without wrap-up
            self._after_call(agent, False)
        elif st.state == "not_ready" and st.reason in ("no-answer", "recovered"):
            self._later(1.0, agent.send, m.Ready(id=0))  # missed a call: back after a moment

    def _after_call(self, agent: SimAgent, wrapping: bool) -> None:
        b = self.b
        if b.not_ready_rate and self.rng.random() < b.not_ready_rate:
            agent.send(m.NotReady(id=0, reason=b.break_reason))
            self._later(self._draw(b.break_seconds), agent.send, m.Ready(id=0))
        elif wrapping:
            agent.send(m.FinishWrapUp(id=0))
