"""`acd wallboard`: the live wallboard in a terminal (rich), signed in to /admin.

Groups show calls waiting, oldest wait, service level of the interval and of today against
the group's target (green at or above it, yellow within 10 points, red below), ASA, AHT,
abandon rate and agents by state. Agents show state, reason, time in state (red when stuck
longer than --stuck seconds in not-ready, wrap-up or a call), current call and calls handled.
The secret comes from $ACD_SECRET or a prompt, never from the command line.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from agent_gateway.admin_client import AdminClient, AdminError

STUCK_STATES = ("not_ready", "wrap_up", "on_call", "reserved")


class Board:
    """The client's copy of the wallboard, kept by applying pushes."""

    def __init__(self) -> None:
        self.groups: dict[str, dict[str, Any]] = {}
        self.agents: dict[str, dict[str, Any]] = {}
        self.offset = 0.0  # server clock minus local clock
        self.updates = 0

    def apply(self, push: dict[str, Any]) -> None:
        """Take a `wallboard` or `wallboard_delta` push."""
        if push.get("type") == "wallboard":
            self.groups, self.agents = dict(push["groups"]), dict(push["agents"])
        elif push.get("type") == "wallboard_delta":
            self.groups.update(push["groups"])
            self.agents.update(push["agents"])
            for aid in push["removed"]:
                self.agents.pop(aid, None)
        else:
            return
        self.offset = push["at"] - time.time()
        self.updates += 1

    def now(self) -> float:
        """The server's clock, as seen from here."""
        return time.time() + self.offset


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def _secs(x: float | None) -> str:
    if x is None:
        return "–"
    x = max(0.0, x)
    return f"{int(x // 60)}:{int(x % 60):02d}" if x >= 60 else f"{x:.0f}s"


def _sl(value: float | None, target: float) -> Text:
    if value is None:
        return Text("–", style="dim")
    style = "green" if value >= target else "yellow" if value >= target - 0.1 else "bold red"
    return Text(_pct(value), style=style)


STATE_STYLE = {
    "ready": "green",
    "reserved": "cyan",
    "on_call": "blue",
    "wrap_up": "magenta",
    "not_ready": "yellow",
    "logged_out": "dim",
}


def render(board: Board, now: float, *, stuck: float = 300.0, title: str = "") -> Group:
    """The wallboard as rich tables."""
    gt = Table(title=title or "Groups", expand=True)
    for col in ("group", "waiting", "oldest", "SL now", "SL today", "ASA", "AHT", "aband.",
                "ready", "busy", "wrap", "not rdy"):  # fmt: skip
        gt.add_column(col, justify="left" if col == "group" else "right")
    for gid, g in board.groups.items():
        target = g["target"]["ratio"]
        oldest = now - g["oldest_since"] if g.get("oldest_since") else None
        a = g["agents"]
        name = Text(f"{gid}" + (" (paused)" if g["paused"] else ""))
        if g["paused"] or not g["open"]:
            name.stylize("yellow")
        gt.add_row(
            name,
            str(g["waiting"]),
            Text(_secs(oldest), style="red" if oldest and oldest > g["target"]["seconds"] else ""),
            _sl(g["interval"]["service_level"], target),
            _sl(g["today"]["service_level"], target),
            _secs(g["today"]["asa"]),
            _secs(g["today"]["aht"]),
            _pct(g["today"]["abandon_rate"]),
            str(a.get("ready", 0)),
            str(a.get("reserved", 0) + a.get("on_call", 0)),
            str(a.get("wrap_up", 0)),
            str(a.get("not_ready", 0)),
        )
    at = Table(title="Agents", expand=True)
    for col in ("agent", "team", "state", "reason", "in state", "call", "on call", "handled"):
        at.add_column(col)
    order = sorted(board.agents.items(), key=lambda kv: (kv[1]["state"] == "logged_out", kv[0]))
    for aid, r in order:
        in_state = now - r["since"] if r.get("since") is not None else None
        on_call = now - r["call_since"] if r.get("call_since") is not None else None
        is_stuck = r["state"] in STUCK_STATES and in_state is not None and in_state > stuck
        at.add_row(
            aid,
            r["team"],
            Text(
                r["state"] + (" ⏸" if r.get("held") else ""), style=STATE_STYLE.get(r["state"], "")
            ),
            r["reason"],
            Text(_secs(in_state), style="bold red" if is_stuck else ""),
            r["call_id"],
            _secs(on_call) if r["call_id"] else "",
            str(r["handled"]),
        )
    return Group(gt, at)


async def watch(
    url: str,
    user: str,
    secret: str,
    *,
    console: Console,
    once: bool = False,
    stuck: float = 300.0,
    refresh: float = 1.0,
) -> int:
    """Sign in, subscribe and draw until interrupted (or one frame with `once`)."""
    try:
        client = await AdminClient.connect(url, user, secret)
    except AdminError as err:
        console.print(f"[red]sign-in refused: {err.code}: {err.message}[/red]")
        return 1
    except OSError as err:
        console.print(f"[red]cannot connect to {url}: {err}[/red]")
        return 1
    board = Board()
    title = f"{client.profile.get('name') or user} ({client.profile.get('role')})"
    try:
        await client.request("subscribe")
        board.apply(await client.next_push(timeout=10))
        if once:
            console.print(render(board, board.now(), stuck=stuck, title=title))
            return 0
        with Live(render(board, board.now(), stuck=stuck, title=title), console=console,
                  auto_refresh=False) as live:  # fmt: skip
            while True:
                try:
                    board.apply(await client.next_push(timeout=refresh))
                except TimeoutError:
                    if client.close_reason is not None:
                        console.print(f"[red]connection closed: {client.close_reason}[/red]")
                        return 1
                live.update(render(board, board.now(), stuck=stuck, title=title), refresh=True)
    finally:
        await client.close()


def main(args: Any, console: Console | None = None) -> int:
    """Entry of `acd wallboard` (arguments from acd.cli)."""
    secret = os.environ.get("ACD_SECRET")
    if secret is None:
        secret = getpass.getpass(f"secret for {args.user}: ")
    try:
        return asyncio.run(
            watch(
                args.url,
                args.user,
                secret,
                console=console or Console(),
                once=args.once,
                stuck=args.stuck,
            )
        )
    except KeyboardInterrupt:
        return 0
