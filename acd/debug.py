"""`GET /debug/state` (component "debug"): the live engine as JSON for operators' checks and the
reliability runs (crash and restart, soak): calls with their phase, group, place and agent,
agents' states, the core's invariant violations (`acd.invariants`), the switch link's calls
and the journal's size.

It lists call ids and numbers, so it is off unless `[server] debug_state = true`; the server
binds 127.0.0.1 by default.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from acd.invariants import violations

if TYPE_CHECKING:
    from acd.app import App

JSON = "application/json"


def state(app: App) -> dict[str, Any]:
    """The snapshot `/debug/state` serves."""
    eng = app.engine
    calls = {
        c.id: {
            "phase": c.phase.value,
            "kind": c.kind.value,
            "group": c.group,
            "queued_at": c.queued_at,
            "priority": c.base,
            "agent": (c.agents[0].id if c.agents else c.agent.id if c.agent else ""),
            "caller_present": c.caller_present,
            "attempts": c.attempts,
            "voicemail": c.voicemail,
        }
        for c in eng.calls.values()
    }
    agents = {
        a.id: {"state": a.state.value, "reason": a.reason, "online": a.online}
        for a in eng.agents.values()
        if a.state.value != "logged_out"
    }
    link: Any = app.component("switch")
    journal: Any = app.component("journal")
    size = 0
    if journal is not None:
        for f in app.data_dir.glob("journal.sqlite3*"):
            size += f.stat().st_size
    now = app.core.now()
    interval = {}
    for gid, g in eng.groups.items():
        g.stats.roll(now)
        iv = g.stats.interval
        interval[gid] = {
            "start": iv.start,
            "offered": iv.offered,
            "answered": iv.answered,
            "abandoned": iv.abandoned,
            "service_level": iv.service_level(),
        }
    return {
        "calls": calls,
        "interval": interval,
        "agents": agents,
        "violations": violations(eng),
        "legs": len(link.legs) if link is not None else 0,
        "connections": app.web.total_connections(),
        "journal_bytes": size,
        "draining": app.draining,
    }


class Debug:
    """Registers the route when the configuration allows it."""

    name = "debug"

    async def start(self, app: App) -> None:
        """Serve `/debug/state` when `[server] debug_state` is true."""
        if not app.settings.server.debug_state:
            return
        app.web.http_route("/debug/state", lambda _r: (200, JSON, json.dumps(state(app)).encode()))

    async def stop(self, app: App) -> None:
        """Nothing to release."""


def component(app: App) -> Debug:
    """The factory listed in `acd.app.COMPONENTS`."""
    return Debug()
