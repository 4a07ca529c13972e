"""The live wallboard feed on the event loop: engine outputs in, coalesced deltas out.

`FeedCore` (agent_gateway.wallboard, pure) keeps the board and decides what changed; this
module schedules its flushes on the loop (never sooner than `period` after the previous one)
and fans each scope's delta out to its subscribers. A delta is encoded once per flush and
scope (per wire format) and shared; only the small envelope with each subscriber's `seq` is
encoded per subscriber. While nobody is subscribed the feed does no work at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Protocol

import msgspec
import structlog

from acd.engine import Engine
from acd.events import Output
from agent_gateway.admin_messages import Wallboard, WallboardDelta
from agent_gateway.framing import Channel, PushLog
from agent_gateway.wallboard import Delta, FeedCore, ScopeFn

log = structlog.get_logger("acd.wallboard")

_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()


class Subscriber(Protocol):
    """What the feed needs of a session."""

    channel: Channel
    pushes: PushLog

    @property
    def scope_key(self) -> Hashable:
        """Subscribers with equal keys see the same board and share deltas."""


class WallboardFeed:
    """Fan-out of the wallboard to every subscribed session."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        clock: Callable[[], float],
        *,
        period: float = 0.5,
        heartbeat: float = 5.0,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.core = FeedCore(period=period)
        self.heartbeat = heartbeat
        self._subs: dict[Hashable, list[Subscriber]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._beat: asyncio.TimerHandle | None = None
        # measured for the benchmark: CPU seconds spent in the feed, frames sent
        self.cpu_seconds = 0.0
        self.frames = 0
        self.deltas = 0

    # -- subscribers ------------------------------------------------------------------

    def subscribe(self, sub: Subscriber, scope: ScopeFn) -> None:
        """Add a subscriber and push it the full wallboard of its scope."""
        t0 = time.thread_time()
        engine = self._engine()
        key = sub.scope_key
        self.core.join(key, scope, engine)
        self._subs.setdefault(key, []).append(sub)
        now = self._clock()
        snap = self.core.snapshot(engine, key, now)
        sub.channel.send(Wallboard(sub.pushes.next(), now, snap.groups, snap.agents))
        self.frames += 1
        self._arm_heartbeat()
        self._schedule()
        self.cpu_seconds += time.thread_time() - t0

    def unsubscribe(self, sub: Subscriber) -> None:
        """Remove a subscriber (idempotent)."""
        subs = self._subs.get(sub.scope_key)
        if subs is None or sub not in subs:
            return
        subs.remove(sub)
        if not subs:
            del self._subs[sub.scope_key]
        self.core.leave(sub.scope_key)
        if not self.core.watched:
            self.stop()

    @property
    def subscribers(self) -> int:
        """How many sessions are subscribed."""
        return sum(len(s) for s in self._subs.values())

    # -- engine outputs ---------------------------------------------------------------

    def on_outputs(self, outputs: Sequence[Output]) -> None:
        """The host's sink: note what changed, schedule a flush."""
        if not self._subs:
            return
        t0 = time.thread_time()
        if self.core.changed(outputs):
            self._schedule()
        self.cpu_seconds += time.thread_time() - t0

    def _schedule(self) -> None:
        if self._timer is not None:
            return
        now = self._clock()
        at = self.core.due(now)
        if at is None:
            return
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(loop.time() + max(0.0, at - now), self._flush)

    def _flush(self) -> None:
        self._timer = None
        now = self._clock()
        at = self.core.due(now)
        if at is None:
            return
        if at > now:  # the clock said earlier than the loop; wait the rest
            self._schedule()
            return
        t0 = time.thread_time()
        try:
            deltas = self.core.flush(self._engine(), now)
            for key, delta in deltas.items():
                self._fan_out(self._subs.get(key, ()), delta, now)
        except Exception:
            log.exception("wallboard flush failed")
        self.cpu_seconds += time.thread_time() - t0

    def _fan_out(self, subs: Sequence[Subscriber], delta: Delta, now: float) -> None:
        encoded: dict[bool, tuple[msgspec.Raw, msgspec.Raw]] = {}
        for sub in list(subs):
            ch = sub.channel
            if ch.closed:
                continue
            parts = encoded.get(ch.binary)
            if parts is None:
                enc = _msgpack if ch.binary else _json
                parts = (
                    msgspec.Raw(enc.encode(delta.groups)),
                    msgspec.Raw(enc.encode(delta.agents)),
                )
                encoded[ch.binary] = parts
            push = WallboardDelta(sub.pushes.next(), now, parts[0], parts[1], delta.removed)
            ch.send_frame((_msgpack if ch.binary else _json).encode(push))
            self.frames += 1
            self.deltas += 1

    # -- the clock alone changes some figures (interval rollover, calendars) ----------

    def _arm_heartbeat(self) -> None:
        if self._beat is None and self.heartbeat > 0:
            self._beat = asyncio.get_running_loop().call_later(self.heartbeat, self._on_beat)

    def _on_beat(self) -> None:
        self._beat = None
        if not self._subs:
            return
        self.core.poke()
        self._schedule()
        self._arm_heartbeat()

    def stop(self) -> None:
        """Cancel pending timers."""
        for h in (self._timer, self._beat):
            if h is not None:
                h.cancel()
        self._timer = self._beat = None
