"""KPI computations over the journal: interval rows per group, agent rows, the benchmark.

Conventions (docs/kpis.md has every formula):
- Events count in the interval in which they happened (a call offered at 09:14 and answered
  at 09:16 counts as offered in 09:00 and answered in 09:15), as the live counters do.
- Offered: each time an inbound call enters a group (arrival, overflow move, transfer) plus
  each refusal because the group was full (blocked). Restored calls are not offered again.
- Service level: answered within T / (answered + abandoned after T), T the group's target
  seconds; calls abandoned within T are left out of both sides.
- The 15-s answer rate of the relative performance model uses the center's `sl_threshold`.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from acd.reports.settings import ReportSettings
from acd.store import CallRecord, SqliteStore

ALL = "*"  # the row of every group together


def _tz(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except Exception:
        return dt.UTC


@dataclass(frozen=True, slots=True)
class Center:
    """What reports need of the configuration (from the journal's latest version)."""

    timezone: dt.tzinfo = dt.UTC
    sl_threshold: float = 15.0
    interval_minutes: int = 15
    targets: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # ratio, seconds
    members: Mapping[str, list[str]] = field(default_factory=dict)

    def target_seconds(self, group: str) -> float:
        """The group's service-target seconds (the center's threshold when unknown)."""
        t = self.targets.get(group)
        return t[1] if t is not None else self.sl_threshold

    def target_ratio(self, group: str) -> float:
        """The group's service-level target ratio."""
        t = self.targets.get(group)
        return t[0] if t is not None else 0.8


def center_of(store: SqliteStore) -> Center:
    """The configuration recorded last in the journal."""
    versions = store.config_versions()
    if not versions:
        return Center()
    s = versions[-1].snapshot
    groups = s.get("groups", {})
    return Center(
        timezone=_tz(str(s.get("timezone", "UTC"))),
        sl_threshold=float(s.get("sl_threshold", 15.0)),
        interval_minutes=int(s.get("interval_minutes", 15)),
        targets={
            g: (float(v["target_ratio"]), float(v["target_seconds"])) for g, v in groups.items()
        },
        members={g: list(v) for g, v in s.get("members", {}).items()},
    )


def _div(a: float, b: float) -> float | None:
    return a / b if b else None


# ---------------------------------------------------------------------------- intervals


@dataclass(slots=True)
class IntervalRow:
    """One group (or ALL) in one interval."""

    start: float
    group: str
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0  # abandoned before the threshold
    blocked: int = 0
    wait_answered: float = 0.0
    wait_abandoned: float = 0.0
    handled: int = 0
    talk: float = 0.0  # agent talk of handled calls (hold included)
    hold: float = 0.0
    acw: float = 0.0
    overflow_in: int = 0
    overflow_out: int = 0
    callbacks: int = 0
    busy: float = 0.0  # agent seconds on call or in wrap-up
    available: float = 0.0  # agent seconds ready or ringing
    signed_in: float = 0.0  # agent seconds signed in
    seconds: float = 0.0  # length of the interval

    def figures(self, target_seconds: float) -> dict[str, Any]:
        """The row as named figures (None where undefined)."""
        sl_denom = self.answered + self.abandoned - self.abandoned_within
        return {
            "start": self.start,
            "group": self.group,
            "offered": self.offered,
            "answered": self.answered,
            "abandoned_before_threshold": self.abandoned_within,
            "abandoned_after_threshold": self.abandoned - self.abandoned_within,
            "blocked": self.blocked,
            "sl_threshold_seconds": target_seconds,
            "service_level": _div(self.answered_within, sl_denom),
            "asa_seconds": _div(self.wait_answered, self.answered),
            "aht_seconds": _div(self.talk + self.acw, self.handled),
            "talk_seconds": _div(self.talk - self.hold, self.handled),
            "hold_seconds": _div(self.hold, self.handled),
            "acw_seconds": _div(self.acw, self.handled),
            "abandon_rate": _div(self.abandoned, self.offered),
            "mean_time_to_abandon_seconds": _div(self.wait_abandoned, self.abandoned),
            "overflowed_in": self.overflow_in,
            "overflowed_out": self.overflow_out,
            "callbacks": self.callbacks,
            "occupancy": _div(self.busy, self.busy + self.available),
            "agents_staffed": _div(self.signed_in, self.seconds),
        }


def interval_start(t: float, tz: dt.tzinfo, minutes: int) -> float:
    """Start of the local-time interval of `minutes` holding `t`."""
    local = dt.datetime.fromtimestamp(t, tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    into = (local - midnight).total_seconds()
    step = minutes * 60
    start = midnight + dt.timedelta(seconds=(into // step) * step)
    return start.timestamp()


class _Rows:
    def __init__(self, tz: dt.tzinfo, minutes: int) -> None:
        self.tz = tz
        self.minutes = minutes
        self.rows: dict[tuple[float, str], IntervalRow] = {}

    def at(self, t: float, group: str) -> IntervalRow:
        start = interval_start(t, self.tz, self.minutes)
        key = (start, group)
        row = self.rows.get(key)
        if row is None:
            row = self.rows[key] = IntervalRow(start, group, seconds=self.minutes * 60.0)
        return row

    def both(self, t: float, group: str) -> tuple[IntervalRow, IntervalRow]:
        return self.at(t, group), self.at(t, ALL)


def _inbound(r: CallRecord) -> bool:
    return r.kind == "inbound"


def intervals(
    store: SqliteStore,
    since: float,
    until: float,
    *,
    minutes: int | None = None,
    center: Center | None = None,
) -> list[dict[str, Any]]:
    """Interval rows per group and for ALL, from the journal alone, oldest first."""
    c = center or center_of(store)
    m = minutes or c.interval_minutes
    rows = _Rows(c.timezone, m)
    # Calls that ended later may hold events inside the range: read a day past its end.
    for r in store.calls(since, until + 86400):
        d = r.detail
        if _inbound(r):
            for seg in d.get("segments", []):
                if seg.get("how") != "restored" and since <= seg["at"] < until:
                    for row in rows.both(seg["at"], seg["group"]):
                        row.offered += 1
            for b in d.get("blocked", []):
                if b["reason"] == "full" and since <= b["at"] < until:
                    for row in rows.both(b["at"], b["group"]):
                        row.offered += 1
                        row.blocked += 1
            for a in d.get("answers", []):
                if since <= a["at"] < until:
                    within = a["wait"] <= c.target_seconds(a["group"])
                    for row in rows.both(a["at"], a["group"]):
                        row.answered += 1
                        row.answered_within += within
                        row.wait_answered += a["wait"]
            for a in d.get("abandon", []):
                if since <= a["at"] < until:
                    within = a["wait"] <= c.target_seconds(a["group"])
                    for row in rows.both(a["at"], a["group"]):
                        row.abandoned += 1
                        row.abandoned_within += within
                        row.wait_abandoned += a["wait"]
        for o in d.get("overflows", []):
            if o["from"] != o["to"] and since <= o["at"] < until:
                rows.at(o["at"], o["to"]).overflow_in += 1
                rows.at(o["at"], o["from"]).overflow_out += 1
                rows.at(o["at"], ALL).overflow_in += 1
                rows.at(o["at"], ALL).overflow_out += 1
        for cb in d.get("callbacks", []):
            if cb["event"] == "queued" and cb.get("attempt", 0) == 0 and since <= cb["at"] < until:
                for row in rows.both(cb["at"], cb["group"]):
                    row.callbacks += 1
    holds = _holds(store, since, until)
    for h in store.handled(since, until):
        for row in rows.both(h.at, h.group):
            row.handled += 1
            row.talk += h.talk
            row.acw += h.acw
            row.hold += holds.get((h.call_id, h.agent_id), 0.0)
    _agent_time(store, since, until, c, rows)
    out = []
    for (_start, group), row in sorted(
        rows.rows.items(), key=lambda kv: (kv[0][0], kv[0][1] != ALL, kv[0][1])
    ):
        # ALL's answers were each judged against their own group's target above.
        target = c.target_seconds(group) if group != ALL else c.sl_threshold
        out.append(row.figures(target))
    return out


def _holds(store: SqliteStore, since: float, until: float) -> dict[tuple[str, str], float]:
    """Hold seconds of calls by (call, last agent): hold is recorded on the call."""
    out: dict[tuple[str, str], float] = {}
    for r in store.calls(since - 86400, until + 86400):
        if r.hold and r.agents:
            out[(r.call_id, r.agents[-1])] = r.hold
    return out


_BUSY = {"on_call", "wrap_up"}
_AVAILABLE = {"ready", "reserved"}


def _split(start: float, end: float, tz: dt.tzinfo, minutes: int) -> Iterable[tuple[float, float]]:
    """Pieces of [start, end) cut at interval boundaries."""
    t = start
    while t < end:
        s = interval_start(t, tz, minutes)
        nxt = min(end, s + minutes * 60.0)
        if nxt <= t:  # a DST fold: step a second on
            nxt = min(end, t + 1.0)
        yield t, nxt
        t = nxt


def _agent_time(store: SqliteStore, since: float, until: float, c: Center, rows: _Rows) -> None:
    groups_of: dict[str, list[str]] = defaultdict(list)
    for g, ids in c.members.items():
        for aid in ids:
            groups_of[aid].append(g)
    for s in store.agent_states(since, until):
        start, end = max(s.start, since), min(s.end, until)
        for a, b in _split(start, end, c.timezone, rows.minutes):
            span = b - a
            for g in [*groups_of.get(s.agent_id, []), ALL]:
                row = rows.at(a, g)
                row.signed_in += span
                if s.state in _BUSY:
                    row.busy += span
                elif s.state in _AVAILABLE:
                    row.available += span


# ---------------------------------------------------------------------------- agents


def agents(
    store: SqliteStore,
    since: float,
    until: float,
    settings: ReportSettings | None = None,
    *,
    center: Center | None = None,
) -> list[dict[str, Any]]:
    """One row per agent seen in the range, ranked by the relative performance score."""
    st = settings or ReportSettings()
    c = center or center_of(store)
    an = st.anomalies
    acc: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "signed_in": 0.0, "on_call": 0.0, "wrap_up": 0.0, "ready": 0.0, "reserved": 0.0,
            "not_ready": 0.0, "sign_ins": 0, "handled": 0, "talk": 0.0, "acw": 0.0,
            "hold": 0.0, "transfers": 0, "missed": 0, "sat": [0, 0, 0], "short": 0, "long": 0,
            "night": 0, "answered": 0, "answered_15": 0, "contacts": 0, "resolved": 0,
        }
    )  # fmt: skip
    for s in store.agent_states(since, until):
        a = acc[s.agent_id]
        span = min(s.end, until) - max(s.start, since)
        a["signed_in"] += span
        a[s.state] = a.get(s.state, 0.0) + span
        if s.state == "not_ready" and s.reason == "login" and s.start >= since:
            a["sign_ins"] += 1
    for h in store.handled(since, until):
        a = acc[h.agent_id]
        a["handled"] += 1
        a["talk"] += h.talk
        a["acw"] += h.acw
        if h.talk < an.short_call_seconds:
            a["short"] += 1
        elif h.talk > an.long_call_seconds:
            a["long"] += 1
        hour = dt.datetime.fromtimestamp(h.at, c.timezone).hour
        if an.night_start_hour <= hour < an.night_end_hour:
            a["night"] += 1
    for o in store.offers(since, until):
        if o.result in ("rejected", "timeout"):
            acc[o.agent_id]["missed"] += 1
    window = st.fcr_window_hours * 3600.0
    later = list(store.calls(since, until + window))
    by_caller: dict[str, list[float]] = defaultdict(list)
    for r in later:
        if _inbound(r) and r.caller and r.queued_at is not None:
            by_caller[r.caller].append(r.queued_at)
    last_agent: dict[str, str] = {}
    for r in later:
        if not (since <= r.ended_at < until) or not r.agents:
            continue
        last_agent[r.call_id] = r.agents[-1]
        a = acc[r.agents[-1]]
        a["hold"] += r.hold
        for prev in r.agents[:-1]:
            if r.transfers:
                acc[prev]["transfers"] += 1
        for ans in r.detail.get("answers", []):
            if r.kind == "inbound":
                b = acc[ans["agent"]]
                b["answered"] += 1
                b["answered_15"] += ans["wait"] <= c.sl_threshold
        if _inbound(r) and r.cause == "completed" and r.caller:
            a["contacts"] += 1
            repeat = any(r.ended_at < t <= r.ended_at + window for t in by_caller[r.caller])
            a["resolved"] += not repeat
    for n in store.notes(since, until + 86400, kind="survey"):
        agent = str(n.data.get("agent") or last_agent.get(n.call_id, ""))
        score = n.data.get("score")
        if agent and score in (1, 2, 3, "1", "2", "3"):
            acc[agent]["sat"][int(score) - 1] += 1
    days = max(1.0, (until - since) / 86400.0)
    rows: list[dict[str, Any]] = []
    for aid, a in acc.items():
        signed = a["signed_in"]
        handled = a["handled"]
        sat = a["sat"]
        rows.append(
            {
                "agent": aid,
                "signed_in_seconds": signed,
                "talk_rate": _div(a["on_call"], signed),
                "utilisation": _div(signed - a["not_ready"], signed),
                "occupancy": _div(
                    a["on_call"] + a["wrap_up"],
                    a["on_call"] + a["wrap_up"] + a["ready"] + a["reserved"],
                ),
                "calls_handled": handled,
                "calls_per_8h": _div(handled * 8 * 3600.0, signed),
                "aht_seconds": _div(a["talk"] + a["acw"], handled),
                "acw_seconds": _div(a["acw"], handled),
                "hold_seconds": _div(a["hold"], handled),
                "transfers": a["transfers"],
                "missed_offers": a["missed"],
                "satisfaction": _div(sat[0] + sat[1], sum(sat)),
                "surveys": sum(sat),
                "answer_15s": _div(a["answered_15"], a["answered"]),
                "fcr": _div(a["resolved"], a["contacts"]),
                "sign_ins": a["sign_ins"],
                "flags": _flags(a, handled, days, st),
            }
        )
    _score(rows, st.weights)
    rows.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["agent"]))
    return rows


def _flags(a: Mapping[str, Any], handled: int, days: float, st: ReportSettings) -> list[str]:
    an = st.anomalies
    flags = []
    if a["sign_ins"] / days > an.max_sign_ins_per_day:
        flags.append("frequent_sign_in")
    if handled and a["short"] / handled > an.short_long_share:
        flags.append("short_calls")
    if handled and a["long"] / handled > an.short_long_share:
        flags.append("long_calls")
    if handled >= 5 and a["night"] / handled > an.night_share:
        flags.append("night_spike")
    return flags


def _score(rows: list[dict[str, Any]], weights: Mapping[str, float]) -> None:
    """Seed 001's relative model: each figure against the center's mean, weighted.

    Higher-is-better figures score value / mean; AHT scores its closeness to the mean,
    1 - |value - mean| / mean (floored at 0). The score is the weighted mean times 100;
    figures an agent lacks leave their weight out.
    """
    means: dict[str, float] = {}
    for key in weights:
        values = [r[_KEY[key]] for r in rows if r[_KEY[key]] is not None]
        means[key] = statistics.fmean(values) if values else 0.0
    for r in rows:
        total = weight = 0.0
        for key, w in weights.items():
            v = r[_KEY[key]]
            m = means[key]
            if v is None or not m or not w:
                continue
            part = max(0.0, 1.0 - abs(v - m) / m) if key == "aht" else v / m
            total += w * part
            weight += w
        r["score"] = 100.0 * total / weight if weight else None
    ranked = sorted((r for r in rows if r["score"] is not None), key=lambda r: -r["score"])
    for r in rows:
        r["rank"] = None
    for i, r in enumerate(ranked, 1):
        r["rank"] = i


_KEY = {
    "talk_rate": "talk_rate",
    "utilisation": "utilisation",
    "satisfaction": "satisfaction",
    "answer_15s": "answer_15s",
    "aht": "aht_seconds",
}


# ---------------------------------------------------------------------------- benchmark

# Seed 000 (Purdue call-center benchmark study): measure -> (median, mean, std dev, unit,
# better). Rates as fractions.
BENCHMARK: dict[str, tuple[float, float, float, str, str]] = {
    "asa_seconds": (25, 36, 40.5, "s", "lower"),
    "talk_minutes": (3.3, 4.4, 3.2, "min", "none"),
    "acw_minutes": (1.2, 2.0, 8.8, "min", "lower"),
    "abandon_rate": (0.043, 0.054, 0.051, "ratio", "lower"),
    "queue_seconds": (30, 49.7, 60.8, "s", "lower"),
    "fcr": (0.83, 0.783, 0.203, "ratio", "higher"),
    "blocked_rate": (0.0484, 0.0797, 0.1023, "ratio", "lower"),
    "occupancy": (0.80, 0.76, 0.167, "ratio", "none"),
    "abandon_wait_seconds": (50, 69.5, 75.7, "s", "none"),
    "schedule_adherence": (0.92, 0.902, 0.096, "ratio", "higher"),
    "attendance": (0.92, 0.862, 0.197, "ratio", "higher"),
    "calls_per_agent_8h": (65, 74.6, 64.8, "calls", "higher"),
}


def benchmark(
    store: SqliteStore, since: float, until: float, settings: ReportSettings | None = None
) -> dict[str, Any]:
    """The center's figures beside seed 000's benchmark, plus its other KPIs."""
    c = center_of(store)
    total = [r for r in intervals(store, since, until, minutes=60, center=c) if r["group"] == ALL]
    agent_rows = agents(store, since, until, settings, center=c)

    def s(key: str) -> float:
        return sum(float(r[key] or 0) for r in total)

    offered, answered = s("offered"), s("answered")
    abandoned = s("abandoned_before_threshold") + s("abandoned_after_threshold")
    wait_ans = sum((r["asa_seconds"] or 0) * r["answered"] for r in total)
    aband_wait = sum(
        (r["mean_time_to_abandon_seconds"] or 0)
        * (r["abandoned_before_threshold"] + r["abandoned_after_threshold"])
        for r in total
    )
    handled = sum(a["calls_handled"] for a in agent_rows)
    talk = sum((a["aht_seconds"] or 0) * a["calls_handled"] for a in agent_rows)
    acw = sum((a["acw_seconds"] or 0) * a["calls_handled"] for a in agent_rows)
    busy = sum((a["occupancy"] or 0) for a in agent_rows)
    signed = sum(a["signed_in_seconds"] for a in agent_rows)
    fcr_num = sum((a["fcr"] or 0) for a in agent_rows if a["fcr"] is not None)
    fcr_n = sum(1 for a in agent_rows if a["fcr"] is not None)
    within = sum(
        (r["service_level"] or 0) * (r["answered"] + r["abandoned_after_threshold"]) for r in total
    )
    sl_denom = sum(r["answered"] + r["abandoned_after_threshold"] for r in total)
    sat = [a for a in agent_rows if a["satisfaction"] is not None]
    own = {
        "asa_seconds": _div(wait_ans, answered),
        "talk_minutes": _div((talk - acw) / 60.0, handled),
        "acw_minutes": _div(acw / 60.0, handled),
        "abandon_rate": _div(abandoned, offered),
        "queue_seconds": _div(wait_ans + aband_wait, answered + abandoned),
        "fcr": _div(fcr_num, fcr_n),
        "blocked_rate": _div(s("blocked"), offered),
        "occupancy": _div(busy, len([a for a in agent_rows if a["occupancy"] is not None])),
        "abandon_wait_seconds": _div(aband_wait, abandoned),
        "schedule_adherence": None,  # needs schedules, which the journal does not hold
        "attendance": None,
        "calls_per_agent_8h": _div(handled * 8 * 3600.0, signed),
    }
    rows = []
    for key, (median, mean, sd, unit, better) in BENCHMARK.items():
        v = own[key]
        z = (v - mean) / sd if v is not None and sd else None
        stand = None
        if v is not None and better != "none":
            good = v <= median if better == "lower" else v >= median
            stand = "better than median" if good else "worse than median"
        elif v is not None:
            stand = "above median" if v > median else "at or below median"
        rows.append(
            {"measure": key, "unit": unit, "median": median, "mean": mean, "std_dev": sd,
             "value": v, "z_score": z, "standing": stand}
        )  # fmt: skip
    talk_rates = [a["talk_rate"] for a in agent_rows if a["talk_rate"] is not None]
    utils = [a["utilisation"] for a in agent_rows if a["utilisation"] is not None]
    extra = {
        "offered": int(offered),
        "service_level": _div(within, sl_denom),
        "aht_seconds": _div(talk, handled),
        "talk_rate": statistics.fmean(talk_rates) if talk_rates else None,
        "utilisation": statistics.fmean(utils) if utils else None,
        "satisfaction": _div(
            sum(a["satisfaction"] * a["surveys"] for a in sat), sum(a["surveys"] for a in sat)
        ),
    }
    return {"benchmark": rows, "kpis": extra, "agents": agent_rows}


def finite(v: Any) -> Any:
    """JSON-safe: non-finite floats become None."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
