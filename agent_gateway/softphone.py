"""`acd-softphone`: a terminal softphone for a person at a desk.

    acd-softphone --server ws://127.0.0.1:8765/agent --agent 3001 [--endpoint sip:3001@desk-12]

The secret is asked for (or taken from ACD_SECRET). The screen shows the agent's state, a
ringing offer with its screen pop and countdown, the calls in progress, wrap-up, today's
counters and the latest events. Type a command and Enter:

    y                ready                      n REASON          not ready (break, lunch...)
    a                accept the ringing offer   r                 reject it
    h                hang up                    o / u             hold / retrieve
    t KIND TARGET    blind transfer (KIND: agent, group, external)
    c KIND TARGET    consult                    cc / cx           complete / cancel the consult
    k                merge the consult into a conference          d PARTY   drop a party
    x DIGITS         send DTMF                  w CODE            wrap-up code and finish
    f                finish wrap-up             p STATE [REASON]  pending state (ready...)
    s                refresh                    q                 sign out and quit
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from agent_gateway import messages as m
from agent_gateway.client import AgentClient, RequestError

STATE_STYLE = {
    "ready": "bold green",
    "not_ready": "bold yellow",
    "reserved": "bold magenta",
    "on_call": "bold cyan",
    "wrap_up": "bold blue",
    "logged_out": "dim",
}


class Softphone:
    """The screen's model: what the pushes and replies told us."""

    def __init__(self, client: AgentClient) -> None:
        self.c = client
        self.snap: m.SnapshotResult | None = None
        self.offer: m.Offer | None = None
        self.events: deque[str] = deque(maxlen=8)
        self.calls: dict[str, m.CallChanged] = {}
        self.wrap: m.WrapUpStarted | None = None
        self.done = False

    def log(self, text: str) -> None:
        self.events.appendleft(f"{time.strftime('%H:%M:%S')} {text}")

    def apply(self, p: m.Push) -> None:
        """Fold a push into the model."""
        if isinstance(p, m.Offer):
            self.offer = p
            self.log(f"offer {p.call_id} from {p.screen.caller} ({p.group})")
        elif isinstance(p, m.OfferEnded):
            if self.offer is not None and self.offer.call_id == p.call_id:
                self.offer = None
            self.log(f"offer {p.call_id} {p.result} {p.reason}".strip())
        elif isinstance(p, m.CallChanged):
            if p.event == "left" or self.c.agent_id not in p.agents:
                self.calls.pop(p.call_id, None)
            else:
                self.calls[p.call_id] = p
            self.log(f"call {p.call_id} {p.event}")
        elif isinstance(p, m.CallEnded):
            self.calls.pop(p.call_id, None)
            self.log(f"call {p.call_id} ended ({p.cause})")
        elif isinstance(p, m.StateChanged):
            if self.snap is not None:
                self.snap.state, self.snap.reason = p.state, p.reason
                self.snap.pending, self.snap.pending_reason = p.pending, p.pending_reason
            by = f" by {p.actor}" if p.actor else ""
            self.log(f"state {p.state} {p.reason}{by}".rstrip())
            if p.state != "wrap_up":
                self.wrap = None
        elif isinstance(p, m.WrapUpStarted):
            self.wrap = p
        elif isinstance(p, m.Message):
            self.log(f"message from {p.sender}: {p.text}")
        elif isinstance(p, m.Notice):
            self.log(f"supervisor {p.supervisor}: {p.kind}")

    def render(self) -> Group:
        """The screen."""
        s = self.snap
        state = s.state if s else "?"
        head = Text.assemble(
            (f" {self.c.agent_id} ", "reverse"),
            "  ",
            (state.upper(), STATE_STYLE.get(state, "")),
            f"  {s.reason}" if s and s.reason else "",
            f"   next: {s.pending} {s.pending_reason}" if s and s.pending else "",
        )
        parts: list[Any] = [head]
        if self.offer is not None:
            o, pop = self.offer, self.offer.screen
            left = max(0.0, o.ring_deadline - time.time())
            t = Table.grid(padding=(0, 2))
            t.add_row("caller", pop.caller, "dialed", pop.dialed)
            t.add_row("brand", f"{pop.brand} VIP {pop.vip}", "city", pop.city)
            t.add_row("group", o.group, "waited", f"{pop.waited:.0f} s")
            t.add_row("IVR", " > ".join(pop.ivr_path), "keys", str(pop.inputs or ""))
            if pop.customer:
                t.add_row("customer", str(pop.customer), "", "")
            for r in pop.recent_contacts[:3]:
                t.add_row("recent", str(r), "", "")
            title = f"RINGING {o.call_id}  {left:4.1f} s  [a]ccept / [r]eject"
            parts.append(Panel(t, title=title, border_style="magenta"))
        for call in self.calls.values():
            held = " HELD" if call.held else ""
            others = ", ".join([a for a in call.agents if a != self.c.agent_id] + call.external)
            parts.append(Text(f"call {call.call_id}{held}  with: {others or 'caller'}"))
        if self.wrap is not None:
            dl = self.wrap.deadline
            remain = f"{max(0.0, dl - time.time()):.0f} s left" if dl else "code required"
            parts.append(Text(f"wrap-up {self.wrap.call_id} ({self.wrap.mode}, {remain})"))
        if s is not None:
            d = s.today
            parts.append(
                Text(
                    f"today {d.day}: offered {d.offered}  answered {d.answered}  "
                    f"handled {d.handled}  missed {d.missed}  talk {d.talk_seconds:.0f} s",
                    style="dim",
                )
            )
        parts.append(Panel("\n".join(self.events) or "-", title="events", border_style="dim"))
        parts.append(Text("y a r h o u t c cc cx k d x w f p n s q  (see --help)", style="dim"))
        return Group(*parts)

    async def command(self, line: str) -> None:
        """Run one typed command."""
        words = line.split()
        if not words:
            return
        cmd, args = words[0], words[1:]
        c = self.c
        call = self._call_id()
        try:
            if cmd == "q":
                with contextlib.suppress(RequestError):
                    await c.sign_out()
                self.done = True
            elif cmd == "y":
                await c.ready()
            elif cmd == "n":
                await c.not_ready(args[0] if args else "break")
            elif cmd in ("a", "r") and self.offer is not None:
                oid = self.offer.call_id
                await (c.accept(oid) if cmd == "a" else c.reject(oid))
            elif cmd == "h":
                await c.hangup(call)
            elif cmd == "o":
                await c.hold(call)
            elif cmd == "u":
                await c.retrieve(call)
            elif cmd in ("t", "c") and len(args) == 2:
                kind: Any = args[0]
                if cmd == "t":
                    await c.transfer(call, kind, args[1])
                else:
                    await c.consult_start(call, kind, args[1])
            elif cmd == "cc":
                await c.consult_complete(call)
            elif cmd == "cx":
                await c.consult_cancel(call)
            elif cmd == "k":
                await c.conference_add(call)
            elif cmd == "d" and args:
                await c.conference_drop(call, args[0])
            elif cmd == "x" and args:
                await c.digits(call, args[0])
            elif cmd == "w" and args:
                await c.wrap_up_code(args[0], finish=True)
            elif cmd == "f":
                await c.finish_wrap_up()
            elif cmd == "p":
                state: Any = None if not args or args[0] == "none" else args[0]
                await c.set_pending(state, args[1] if len(args) > 1 else "")
            elif cmd == "s":
                self.snap = await c.snapshot()
            else:
                self.log(f"? {line}")
                return
        except RequestError as err:
            self.log(f"refused: {err.code}: {err.message}")

    def _call_id(self) -> str:
        if self.calls:
            return next(reversed(self.calls))
        return self.wrap.call_id if self.wrap is not None else ""


async def run(args: argparse.Namespace, secret: str) -> int:
    """Sign in, then draw the screen and take commands until `q`."""
    client = AgentClient(args.server, binary=True)
    await client.connect()
    try:
        res = await client.sign_in(args.agent, secret, args.endpoint)
    except RequestError as err:
        print(f"sign-in refused: {err.code}: {err.message}", file=sys.stderr)
        await client.close()
        return 1
    phone = Softphone(client)
    phone.snap = res.snapshot
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read_stdin() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "q")

    loop.run_in_executor(None, read_stdin)
    with Live(phone.render(), refresh_per_second=4, transient=False) as live:
        while not phone.done:
            get_line = asyncio.ensure_future(lines.get())
            get_push = asyncio.ensure_future(client.pushes.get())
            closed = client.closed
            assert closed is not None
            waits: set[asyncio.Future[Any]] = {get_line, get_push, closed}
            done, _ = await asyncio.wait(waits, timeout=0.25, return_when="FIRST_COMPLETED")
            for fut in (get_line, get_push):
                if fut not in done:
                    fut.cancel()
            if get_push in done:
                phone.apply(get_push.result())
            if get_line in done:
                await phone.command(get_line.result())
            if closed.done():
                code, reason = closed.result()
                phone.log(f"connection closed {code} {reason}")
                live.update(phone.render())
                break
            live.update(phone.render())
    await client.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The `acd-softphone` console script."""
    p = argparse.ArgumentParser(
        prog="acd-softphone",
        description="Terminal softphone for the ACD agent protocol.",
        epilog=__doc__.split("Enter:", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--server", default="ws://127.0.0.1:8765/agent")
    p.add_argument("--agent", required=True, help="agent id (工号)")
    p.add_argument("--endpoint", default="", help="what the switch rings (default: config)")
    args = p.parse_args(argv)
    secret = os.environ.get("ACD_SECRET") or getpass.getpass(f"secret for {args.agent}: ")
    try:
        return asyncio.run(run(args, secret))
    except (OSError, TimeoutError) as err:
        print(f"cannot reach {args.server}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
