"""Report output: a table on a terminal, CSV, JSON, or HTML with charts (inline SVG)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

Row = Mapping[str, Any]


def _cell(v: Any, key: str = "", tz: dt.tzinfo | None = None) -> str:
    if v is None:
        return "-"
    if key in ("start", "at") and isinstance(v, int | float) and tz is not None:
        return dt.datetime.fromtimestamp(v, tz).strftime("%Y-%m-%d %H:%M")
    if isinstance(v, float):
        if not math.isfinite(v):
            return "-"
        if key.endswith(
            ("_rate", "level", "occupancy", "utilisation", "satisfaction", "fcr")
        ) or key in ("service_level", "answer_15s", "talk_rate"):
            return f"{v:.1%}"
        return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"
    if isinstance(v, list | tuple):
        return ",".join(str(x) for x in v)
    return str(v)


def table(rows: Sequence[Row], columns: Sequence[str], tz: dt.tzinfo | None = None) -> str:
    """Aligned columns for a terminal."""
    cells = [[_cell(r.get(c), c, tz) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """CSV with a header row; raw numbers, lists joined with `;`."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(columns)
    for r in rows:
        w.writerow(
            [
                ""
                if r.get(c) is None
                else ";".join(map(str, v))
                if isinstance(v := r.get(c), list)
                else v
                for c in columns
            ]
        )
    return buf.getvalue()


def _safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _safe(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_safe(x) for x in v]
    return v


def to_json(doc: Any) -> str:
    """JSON (non-finite numbers become null)."""
    return json.dumps(_safe(doc), indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------------------- HTML

_W, _H, _PAD = 720, 220, 40


def _svg_lines(
    title: str, labels: Sequence[str], series: Mapping[str, Sequence[float | None]],
    *, percent: bool = False, target: float | None = None, bars: bool = False,
) -> str:  # fmt: skip
    values = [v for s in series.values() for v in s if v is not None]
    top = max([*values, target or 0.0, 1e-9])
    top = 1.0 if percent else top * 1.1
    n = max(1, len(labels))
    step = (_W - 2 * _PAD) / n
    colours = ["#3b6ea5", "#e0803a", "#4a9a5b", "#b04a4a"]

    def y(v: float) -> float:
        return _H - _PAD - (v / top) * (_H - 2 * _PAD)

    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{html.escape(title)}">',
        f'<text x="{_PAD}" y="16" font-size="13">{html.escape(title)}</text>',
        f'<line x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}" stroke="#999"/>',
        f'<text x="4" y="{y(top) + 4:.0f}" font-size="10">'
        f"{'100%' if percent else f'{top:.0f}'}</text>",
    ]
    for k, (name, s) in enumerate(series.items()):
        colour = colours[k % len(colours)]
        parts.append(
            f'<text x="{_W - _PAD - 160 + 80 * k}" y="16" font-size="11" fill="{colour}">'
            f"{html.escape(name)}</text>"
        )
        if bars:
            width = step / (len(series) + 1)
            for i, v in enumerate(s):
                if v is None:
                    continue
                x = _PAD + i * step + k * width
                parts.append(
                    f'<rect x="{x:.1f}" y="{y(v):.1f}" width="{width:.1f}" '
                    f'height="{(_H - _PAD) - y(v):.1f}" fill="{colour}"/>'
                )
        else:
            pts = " ".join(
                f"{_PAD + (i + 0.5) * step:.1f},{y(v):.1f}"
                for i, v in enumerate(s)
                if v is not None
            )
            parts.append(
                f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
    if target is not None:
        parts.append(
            f'<line x1="{_PAD}" y1="{y(target):.1f}" x2="{_W - _PAD}" y2="{y(target):.1f}" '
            f'stroke="#b04a4a" stroke-dasharray="4 3"/>'
            f'<text x="{_W - _PAD + 2}" y="{y(target) + 4:.1f}" font-size="10">target</text>'
        )
    every = max(1, n // 12)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(
                f'<text x="{_PAD + i * step:.1f}" y="{_H - _PAD + 14}" font-size="10">'
                f"{html.escape(label)}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def html_page(
    title: str,
    rows: Sequence[Row],
    columns: Sequence[str],
    *,
    tz: dt.tzinfo | None = None,
    charts: Sequence[str] = (),
) -> str:
    """A self-contained page: charts first, then the table."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(_cell(r.get(c), c, tz))}</td>" for c in columns)
        + "</tr>"
        for r in rows
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}svg{display:block;"
        "margin:1em 0}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{''.join(charts)}"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n"
    )


def interval_charts(rows: Sequence[Row], tz: dt.tzinfo, target: float | None) -> list[str]:
    """Offered and answered per interval, service level against target, ASA, abandon rate."""
    labels = [dt.datetime.fromtimestamp(r["start"], tz).strftime("%H:%M") for r in rows]
    return [
        _svg_lines(
            "Offered and answered", labels,
            {"offered": [r["offered"] for r in rows], "answered": [r["answered"] for r in rows]},
            bars=True,
        ),
        _svg_lines(
            "Service level", labels, {"service level": [r["service_level"] for r in rows]},
            percent=True, target=target,
        ),
        _svg_lines("ASA (s)", labels, {"ASA": [r["asa_seconds"] for r in rows]}),
        _svg_lines(
            "Abandon rate", labels, {"abandon rate": [r["abandon_rate"] for r in rows]},
            percent=True,
        ),
    ]  # fmt: skip
