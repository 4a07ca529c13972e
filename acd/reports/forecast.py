"""Forecast of one day's calls and handle times per interval, from the journal's history.

Method: for each interval of the day, the mean over the past `weeks` same weekdays of the
inbound calls that arrived in that interval (first queue entry; restored calls excluded), and
the handle time (talk + after-call work) of the calls handled in it, weighted by calls. Weeks
the journal does not cover (before its first record) are left out. Intervals with no handled
call take the fallback AHT.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from acd.reports.kpi import interval_start
from acd.store import SqliteStore


def history(
    store: SqliteStore,
    day: dt.date,
    tz: dt.tzinfo,
    minutes: float,
    weeks: int,
    fallback_aht: float | None,
) -> list[dict[str, Any]]:
    """Rows {start, calls, aht_seconds, weeks} for each interval of `day`."""
    step = int(minutes)
    slots = int(24 * 60 // step)
    calls = [0.0] * slots
    handle = [0.0] * slots
    handled = [0] * slots
    span = store.span()
    used = 0
    for w in range(1, weeks + 1):
        past = day - dt.timedelta(weeks=w)
        start = dt.datetime.combine(past, dt.time(), tz).timestamp()
        end = dt.datetime.combine(past + dt.timedelta(days=1), dt.time(), tz).timestamp()
        if span is None or span[0] > end:
            continue
        used += 1
        for r in store.calls(start, end + 86400):
            segs = r.detail.get("segments", [])
            if r.kind != "inbound" or not segs or segs[0].get("how") == "restored":
                continue
            at = segs[0]["at"]
            if start <= at < end:
                calls[_slot(at, start, tz, step)] += 1
        for h in store.handled(start, end):
            i = _slot(h.at, start, tz, step)
            handle[i] += h.talk + h.acw
            handled[i] += 1
    midnight = dt.datetime.combine(day, dt.time(), tz)
    rows = []
    for i in range(slots):
        aht = handle[i] / handled[i] if handled[i] else fallback_aht
        rows.append(
            {
                "start": (midnight + dt.timedelta(minutes=i * step)).timestamp(),
                "calls": calls[i] / used if used else 0.0,
                "aht_seconds": aht if aht else 180.0,
                "weeks": used,
            }
        )
    return rows


def _slot(t: float, day_start: float, tz: dt.tzinfo, step: int) -> int:
    s = interval_start(t, tz, step)
    local = dt.datetime.fromtimestamp(s, tz)
    return int((local.hour * 60 + local.minute) // step)
