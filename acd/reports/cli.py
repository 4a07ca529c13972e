"""The `acd report`, `acd staffing` and `acd audit` commands."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from acd.reports import kpi, render

INTERVAL_COLUMNS = [
    "start", "group", "offered", "answered", "abandoned_before_threshold",
    "abandoned_after_threshold", "blocked", "service_level", "asa_seconds", "aht_seconds",
    "talk_seconds", "hold_seconds", "acw_seconds", "abandon_rate",
    "mean_time_to_abandon_seconds", "overflowed_in", "overflowed_out", "callbacks", "occupancy",
    "agents_staffed",
]  # fmt: skip
AGENT_COLUMNS = [
    "rank", "agent", "score", "signed_in_seconds", "talk_rate", "utilisation", "occupancy",
    "calls_handled", "calls_per_8h", "aht_seconds", "acw_seconds", "hold_seconds", "transfers",
    "missed_offers", "satisfaction", "fcr", "answer_15s", "flags",
]  # fmt: skip
BENCH_COLUMNS = ["measure", "unit", "median", "mean", "std_dev", "value", "z_score", "standing"]
AUDIT_COLUMNS = ["at", "who", "role", "action", "target", "params", "result"]


def _store(data_dir: str) -> Any:
    from acd.store import open_store

    path = Path(data_dir)
    try:
        return open_store(path, writer=False)
    except FileNotFoundError as err:
        raise SystemExit(f"acd: {err} (is --data-dir right?)") from None


def _when(text: str, tz: dt.tzinfo) -> float:
    """An ISO date or date-time in the center's zone, or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        d = dt.datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"acd: bad time {text!r} (use 2025-01-31 or 2025-01-31T09:00)") from None
    if d.tzinfo is None:
        d = d.replace(tzinfo=tz)
    return d.timestamp()


def _range(args: argparse.Namespace, store: Any, tz: dt.tzinfo) -> tuple[float, float]:
    if args.date:
        start = _when(args.date, tz)
        return start, _when(
            (dt.date.fromisoformat(args.date) + dt.timedelta(days=1)).isoformat(), tz
        )
    span = store.span()
    lo = _when(args.from_, tz) if args.from_ else (span[0] if span else 0.0)
    hi = _when(args.to, tz) if args.to else (span[1] + 1.0 if span else 1.0)
    return lo, hi


def _settings(args: argparse.Namespace) -> Any:
    from acd.reports.settings import ReportSettings

    if not getattr(args, "config", None):
        return ReportSettings()
    from acd.errors import ConfigError
    from acd.settings import load_settings

    try:
        return load_settings(args.config).parts["reports"]
    except ConfigError as err:
        raise SystemExit("\n".join(str(p) for p in err.problems)) from None


def _emit(
    args: argparse.Namespace,
    title: str,
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    tz: dt.tzinfo,
    doc: Any = None,
    charts: Sequence[str] = (),
) -> None:
    fmt = "json" if args.json else args.format
    if fmt == "json":
        sys.stdout.write(render.to_json(rows if doc is None else doc))
    elif fmt == "csv":
        sys.stdout.write(render.to_csv(rows, columns))
    elif fmt == "html":
        sys.stdout.write(render.html_page(title, rows, columns, tz=tz, charts=charts))
    else:
        sys.stdout.write(render.table(rows, columns, tz))


def _report(args: argparse.Namespace) -> int:
    store = _store(args.data_dir)
    center = kpi.center_of(store)
    tz = center.timezone
    since, until = _range(args, store, tz)
    settings = _settings(args)
    if args.what == "intervals":
        rows = kpi.intervals(store, since, until, minutes=args.minutes, center=center)
        if args.group:
            rows = [r for r in rows if r["group"] == args.group]
        shown = [r for r in rows if r["group"] == (args.group or kpi.ALL)]
        target = center.target_ratio(args.group) if args.group else None
        charts = render.interval_charts(shown, tz, target) if args.format == "html" else []
        _emit(args, "Interval report", rows, INTERVAL_COLUMNS, tz, charts=charts)
    elif args.what == "agents":
        rows = kpi.agents(store, since, until, settings, center=center)
        _emit(args, "Agent report", rows, AGENT_COLUMNS, tz)
    else:
        doc = kpi.benchmark(store, since, until, settings)
        if args.json or args.format == "json":
            _emit(args, "", [], [], tz, doc=doc)
        else:
            rows = doc["benchmark"] + [{"measure": k, "value": v} for k, v in doc["kpis"].items()]
            _emit(args, "Benchmark (seed 000 inbound table)", rows, BENCH_COLUMNS, tz)
    store.close()
    return 0


def _audit(args: argparse.Namespace) -> int:
    from acd.store import AuditFilter

    store = _store(args.data_dir)
    tz = kpi.center_of(store).timezone
    flt = AuditFilter(
        who=args.who,
        action=args.action,
        since=_when(args.since, tz) if args.since else None,
        limit=args.limit,
    )
    rows = [
        {"at": r.at, "who": r.who, "role": r.role, "action": r.action, "target": r.target,
         "params": r.params, "result": r.result}
        for r in store.audit_rows(flt)
    ]  # fmt: skip
    if args.json:
        sys.stdout.write(render.to_json(rows))
    else:
        shown = [{**r, "params": render.to_json(r["params"]).replace("\n", " ")} for r in rows]
        sys.stdout.write(render.table(shown, AUDIT_COLUMNS, tz))
    store.close()
    return 0


def _staffing(args: argparse.Namespace) -> int:
    from acd.erlang import staff

    def one(calls: float, aht: float) -> dict[str, Any]:
        result = staff(
            calls,
            args.interval_minutes * 60.0,
            aht,
            args.sl_target,
            args.sl_seconds,
            patience_s=args.patience,
            max_occupancy=args.max_occupancy,
            shrinkage=args.shrinkage,
        )
        doc: dict[str, Any] = dict(result.to_json())
        doc["offered_load"] = result.offered_load
        doc["erlang_c"]["scheduled"] = result.erlang_c_scheduled
        if doc["erlang_a"] is not None:
            doc["erlang_a"]["scheduled"] = result.erlang_a_scheduled
        return doc

    if args.from_history:
        from acd.reports.forecast import history

        store = _store(args.data_dir)
        center = kpi.center_of(store)
        tz = center.timezone
        day = dt.date.fromisoformat(args.date) if args.date else dt.datetime.now(tz).date()
        table = history(store, day, tz, args.interval_minutes, args.weeks, args.aht)
        rows = []
        for slot in table:
            doc = one(slot["calls"], slot["aht_seconds"])
            rows.append({**slot, **doc})
        store.close()
        if args.json:
            sys.stdout.write(render.to_json(rows))
            return 0
        flat = [
            {"start": r["start"], "calls": r["calls"], "aht_seconds": r["aht_seconds"],
             "erlang_c_agents": r["erlang_c"]["agents"],
             "erlang_c_scheduled": r["erlang_c"]["scheduled"],
             "erlang_c_service_level": r["erlang_c"]["service_level"],
             "erlang_a_agents": (r["erlang_a"] or {}).get("agents"),
             "erlang_a_abandon_rate": (r["erlang_a"] or {}).get("abandon_rate")}
            for r in rows
        ]  # fmt: skip
        sys.stdout.write(render.table(flat, list(flat[0]) if flat else ["start"], tz))
        return 0
    if args.calls is None or args.aht is None:
        raise SystemExit("acd staffing: --calls and --aht are needed (or --from-history)")
    try:
        doc = one(args.calls, args.aht)
    except ValueError as err:
        raise SystemExit(f"acd staffing: {err}") from None
    if args.json:
        sys.stdout.write(render.to_json(doc))
        return 0
    print(f"offered load: {doc['offered_load']:.2f} Erlangs")
    for model in ("erlang_c", "erlang_a"):
        m = doc[model]
        if m is None:
            continue
        line = (
            f"{model.replace('_', ' ').title()}: {m['agents']} agents "
            f"({m['scheduled']} scheduled), service level {m['service_level']:.1%} in "
            f"{args.sl_seconds:g} s, ASA {m['asa_seconds']:.1f} s, occupancy "
            f"{m['occupancy']:.1%}, P(wait) {m['p_wait']:.1%}"
        )
        if "abandon_rate" in m:
            line += f", abandon rate {m['abandon_rate']:.1%}"
        print(line)
    return 0


def add_commands(sub: Any) -> None:
    """Register `report`, `staffing` and `audit` on the `acd` parser."""
    r = sub.add_parser("report", help="interval, agent and benchmark reports from the journal")
    r.add_argument("what", choices=["intervals", "agents", "benchmark"])
    r.add_argument("--data-dir", default="./var", help="data folder (default ./var)")
    r.add_argument("--date", help="one day, in the center's time zone (YYYY-MM-DD)")
    r.add_argument("--from", dest="from_", help="start (ISO date-time, center's zone)")
    r.add_argument("--to", help="end (exclusive)")
    r.add_argument("--minutes", type=int, choices=[15, 30, 60], help="interval length")
    r.add_argument("--group", help="intervals: one group only")
    r.add_argument("--config", help="read [reports] settings from this configuration")
    r.add_argument("--format", choices=["table", "csv", "json", "html"], default="table")
    r.add_argument("--json", action="store_true", help="same as --format json")
    r.set_defaults(func=_report)

    s = sub.add_parser("staffing", help="agents needed by Erlang C and Erlang A")
    s.add_argument("--calls", type=float, help="calls offered per interval")
    s.add_argument("--interval-minutes", type=float, default=30.0)
    s.add_argument("--aht", type=float, help="mean handle time, seconds")
    s.add_argument("--sl-target", type=float, default=0.8)
    s.add_argument("--sl-seconds", type=float, default=20.0)
    s.add_argument("--patience", type=float, help="mean caller patience, seconds (Erlang A)")
    s.add_argument("--shrinkage", type=float, default=0.0)
    s.add_argument("--max-occupancy", type=float)
    s.add_argument("--json", action="store_true")
    s.add_argument("--from-history", action="store_true", help="forecast a day from the journal")
    s.add_argument("--data-dir", default="./var")
    s.add_argument("--date", help="the day to staff (YYYY-MM-DD, default today)")
    s.add_argument("--weeks", type=int, default=4, help="past weeks averaged (default 4)")
    s.set_defaults(func=_staffing)

    a = sub.add_parser("audit", help="list the supervisor audit trail")
    a.add_argument("--data-dir", default="./var")
    a.add_argument("--who")
    a.add_argument("--action")
    a.add_argument("--since", help="ISO date-time (center's zone) or epoch seconds")
    a.add_argument("--limit", type=int)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_audit)
