"""Graceful drain (`acd drain`, SIGTERM): stop taking calls, serve the ones in hand, stop.

1. The switch link refuses new arrivals with `draining` and tells every switch the center is
   closed (`center` command); `/readyz` answers 503 `draining`.
2. Calls waiting and in progress are served to the end by the agents signed in. Once no
   caller waits any more, idle agents are signed out, and busy ones are signed out as their
   call (and its after-call work) ends: the core defers their sign-out.
3. When no call is left, or `[server] drain_timeout` has passed, the calls still held are
   handed back to their switch (`handback`, journal note `handback`, record cause `lost`) and
   the remaining agents are signed out. The server then stops: the journal commits
   everything and closes, and the process exits 0.

Callback and voicemail tasks still owed (no caller on the line) are not served during a
drain: they stay owed in the journal and the next start restores them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog

from acd import events as ev
from acd.errors import AcdError
from acd.live import CallPhase
from acd.states import AgentState

if TYPE_CHECKING:
    from acd.app import App

log = structlog.get_logger("acd.drain")

S = AgentState
IN_PROGRESS = frozenset({CallPhase.OFFERED, CallPhase.CONNECTING, CallPhase.CONNECTED})
ACTOR = "drain"


@dataclass
class DrainReport:
    """What a drain did."""

    seconds: float = 0.0
    handed_back: int = 0
    signed_out: int = 0
    timed_out: bool = False
    owed: int = 0  # tasks left owed for the next start
    waits: list[int] = field(default_factory=list)  # calls in hand, sampled each second


def callers_in_hand(app: App) -> tuple[int, int]:
    """(callers waiting, calls in progress) in the core."""
    waiting = busy = 0
    for call in app.engine.calls.values():
        if call.phase in IN_PROGRESS:
            busy += 1
        elif call.caller_present and call.phase is not CallPhase.ENDED:
            waiting += 1
    return waiting, busy


def owed_tasks(app: App) -> int:
    """Callback and voicemail tasks with no caller on the line and no agent on them."""
    return sum(
        1
        for c in app.engine.calls.values()
        if not c.caller_present and c.phase not in IN_PROGRESS and c.kind is not ev.CallKind.CONSULT
    )


def _sign_out(app: App, only_idle: bool) -> int:
    """Sign out idle agents now; busy ones when their call ends (the core defers it)."""
    n = 0
    for agent in list(app.engine.agents.values()):
        st = agent.state
        if st is S.LOGGED_OUT or agent.pending is S.LOGGED_OUT:
            continue
        if only_idle and st is S.RESERVED:
            continue  # a ringing offer may come back to the queue: keep the agent for it
        event: ev.Event
        if st is S.WRAP_UP and only_idle:
            event = ev.SetPending(agent.id, S.LOGGED_OUT)  # finish the after-call work first
        else:
            event = ev.AgentLogout(agent.id, ACTOR)
        try:
            app.core.submit(event)
            n += 1
        except AcdError as err:
            log.warning("drain sign-out refused", agent_id=agent.id, code=err.code)
    return n


def _signed_in(app: App) -> int:
    return sum(1 for a in app.engine.agents.values() if a.state is not S.LOGGED_OUT)


async def drain(app: App, timeout: float, poll: float = 0.1) -> DrainReport:
    """Drain `app` (see the module docstring); returns when nothing is left in hand."""
    t0 = time.monotonic()
    deadline = app.core.now() + timeout
    report = DrainReport()
    app.draining = True
    link: Any = app.component("switch")
    if link is not None:
        link.begin_drain(deadline)
    log.info("draining", timeout=timeout)
    last_sample = -1
    while True:
        waiting, busy = callers_in_hand(app)
        legs = link.busy() if link is not None else 0
        if waiting == 0 and (link is None or link.in_ivr() == 0):
            # No caller waits for an agent any more: sign out whoever is idle.
            report.signed_out += _sign_out(app, only_idle=True)
        if waiting == 0 and busy == 0 and legs == 0 and _signed_in(app) == 0:
            break
        elapsed = time.monotonic() - t0
        if int(elapsed) != last_sample:
            last_sample = int(elapsed)
            report.waits.append(waiting + busy + legs)
        if elapsed >= timeout:
            report.timed_out = True
            reason = f"drain timeout ({timeout:g} s)"
            if link is not None:
                report.handed_back = link.hand_back(reason)
            report.signed_out += _sign_out(app, only_idle=False)
            break
        await asyncio.sleep(poll)
    report.owed = owed_tasks(app)
    report.seconds = time.monotonic() - t0
    log.info(
        "drained",
        seconds=round(report.seconds, 3),
        handed_back=report.handed_back,
        signed_out=report.signed_out,
        timed_out=report.timed_out,
        owed=report.owed,
    )
    return report
