"""Recovery at start (component "recovery", started last): what a stopped or killed server
owed is rebuilt from the journal before the first connection is accepted.

- **Owed callback and voicemail tasks.** The journal writes a note `owed` each time the core
  queues one (`CallbackQueued`: group, number, due time, attempts made, original place in the
  queue, voicemail reference, caller data) and `{"owed": false}` once the customer is on the
  line (from then on the switch holds the call and its resync restores it). At start, every
  task whose latest note says owed and that has no call record yet is handed back to the core
  with `ScheduleCallback(queued_at=…, voicemail=…, attempts=…)`: it keeps its place, its
  retries and its due time. A task that was being dialled (note `dialing`) may be connected
  on the switch: it waits `[switch] grace` seconds for the switch's resync, and is owed again
  only if no switch reported it.
- **Interval KPIs.** The core's live figures of the current interval and day per group
  (offered, answered within the target, abandoned, blocked, ASA, handle time: what the service
  level gauge and the wallboard show) are recounted from the call and handled records of the
  journal with the same conventions (`acd.stats`).

Queued and connected calls come back through the switch's resync (`docs/switch-link.md`);
agents sign in again (a call restored on an agent who is not back yet leaves the agent
not ready with reason `recovered` when it ends).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from acd import events as ev
from acd.errors import AcdError
from acd.stats import Counters, bounds

if TYPE_CHECKING:
    from acd.app import App

log = structlog.get_logger("acd.recovery")

OWED_HORIZON = 30 * 86400.0  # owed notes older than this are not looked at


@dataclass
class RecoveryReport:
    """What the start restored."""

    owed: int = 0
    refused: int = 0
    calls_counted: int = 0
    seconds: float = 0.0


def owed_tasks(store: Any, now: float) -> dict[str, dict[str, Any]]:
    """Tasks the journal says are still owed: call id -> the latest `owed` note's data."""
    latest: dict[str, dict[str, Any]] = {}
    for note in store.notes(now - OWED_HORIZON, now + 1.0, kind="owed"):
        latest[note.call_id] = note.data
    owed = {cid: d for cid, d in latest.items() if d.get("owed")}
    ended = store.call_ids() if owed else set()
    return {cid: d for cid, d in owed.items() if cid not in ended}


def _schedule(cid: str, d: dict[str, Any]) -> ev.ScheduleCallback:
    raw = d.get("info")
    info = (
        msgspec.convert(raw, ev.CallInfo)
        if isinstance(raw, dict)
        else ev.CallInfo(cid, str(d.get("number", "")))
    )
    return ev.ScheduleCallback(
        info,
        str(d["group"]),
        str(d.get("number") or info.caller),
        float(d.get("due_at", 0.0)),
        "recovered",
        queued_at=d.get("queued_at"),
        voicemail=str(d.get("voicemail", "")),
        attempts=int(d.get("attempts", 0)),
    )


def recount(counters: Counters, records: Any, handled: Any, group: str, threshold: float) -> int:
    """Count the journal's records of [counters.start, counters.end) for `group`."""
    lo, hi = counters.start, counters.end
    n = 0
    for rec in records:
        d = rec.detail
        n += 1
        for seg in d.get("segments", ()):
            if seg.get("group") == group and seg.get("how") == "queued" and lo <= seg["at"] < hi:
                counters.offered += 1
        for b in d.get("blocked", ()):
            if b.get("group") == group and lo <= b["at"] < hi:
                counters.offered += 1
                counters.blocked += 1
        for a in d.get("answers", ()):
            if a.get("group") == group and lo <= a["at"] < hi:
                counters.answered += 1
                counters.answered_within += a["wait"] <= threshold
                counters.wait_answered += a["wait"]
        for a in d.get("abandon", ()):
            if a.get("group") == group and lo <= a["at"] < hi:
                counters.abandoned += 1
                counters.abandoned_within += a["wait"] <= threshold
    for h in handled:
        if h.group == group and lo <= h.at < hi:
            counters.handled += 1
            counters.handle_time += h.talk + h.acw
    return n


class Recovery:
    """The component: restores owed tasks and the interval's figures at start."""

    name = "recovery"

    def __init__(self) -> None:
        self.report = RecoveryReport()

    async def start(self, app: App) -> None:
        """Rebuild from the journal (nothing to do without one)."""
        journal: Any = app.component("journal")
        if journal is None:
            return
        t0 = time.perf_counter()
        store = journal.store
        now = app.core.now()
        self._stats(app, store, now)
        dialing: dict[str, dict[str, Any]] = {}
        for cid, data in owed_tasks(store, now).items():
            if data.get("dialing"):
                dialing[cid] = data  # the switch may hold it connected: wait for its resync
            else:
                self._restore(app, cid, data)
        if dialing:
            sw = app.settings.parts.get("switch")
            wait = float(getattr(sw, "grace", 30.0))
            asyncio.get_running_loop().call_later(wait, self._restore_dialing, app, dialing)
        self.report.seconds = time.perf_counter() - t0
        log.info(
            "recovered",
            owed=self.report.owed,
            refused=self.report.refused,
            calls_counted=self.report.calls_counted,
            seconds=round(self.report.seconds, 3),
        )

    def _restore(self, app: App, cid: str, data: dict[str, Any]) -> None:
        if cid in app.engine.calls:
            return  # a switch's resync brought it back (connected to its agent)
        try:
            app.core.submit(_schedule(cid, data))
            self.report.owed += 1
        except (AcdError, KeyError, ValueError, TypeError, msgspec.ValidationError) as err:
            self.report.refused += 1
            log.warning("owed task not restored", call_id=cid, error=str(err))

    def _restore_dialing(self, app: App, tasks: dict[str, dict[str, Any]]) -> None:
        """Tasks that were being dialled and that no switch reported: owed again."""
        for cid, data in tasks.items():
            self._restore(app, cid, data)

    def _stats(self, app: App, store: Any, now: float) -> None:
        groups = app.engine.groups
        if not groups:
            return
        day_start = min(bounds(now, g.stats.tz, 86400)[0] for g in groups.values())
        records = list(store.calls(day_start, now + 1.0))
        handled = list(store.handled(day_start, now + 1.0))
        for gid, g in groups.items():
            st = g.stats
            st.roll(now)
            iv = Counters(start=st.interval.start, end=st.interval.end)
            day = Counters(start=st.day.start, end=st.day.end)
            self.report.calls_counted = recount(iv, records, handled, gid, st.threshold)
            recount(day, records, handled, gid, st.threshold)
            st.interval, st.day = iv, day
        # The agents' counts of the day (fewest-calls and least-talk-time pick by them).
        agents = app.engine.agents
        for h in handled:
            agent = agents.get(h.agent_id)
            if agent is not None:
                agent.handled += 1
                agent.talk += h.talk

    async def stop(self, app: App) -> None:
        """Nothing to release."""


def component(app: App) -> Recovery:
    """The factory listed in `acd.app.COMPONENTS`."""
    return Recovery()
