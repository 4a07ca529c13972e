"""Drain under load: SIGTERM (what `acd drain` sends) a real server while a simulated switch
places calls and simulated agents take them.

    python -m loadtest.drain_check --agents 20 --rate 30 --seconds 3

Checks and prints: calls the server accepted, arrivals refused with `draining` after the
signal, how the accepted calls ended (all served: none handed back, none lost), calls the
switch still holds at the end (0), agents signed out (all), the exit code (0), the drain's
duration, and that every accepted call has its record in the journal.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from acd.reloader import PID_FILE
from acd.store import open_store
from agent_gateway import messages as am
from loadtest.rig import Rig
from loadtest.sim_agents import Behaviour, SimAgent, SimFleet
from loadtest.sim_switch import Caller, SimSwitch, poisson

CALLERS = ["13800000001", "13900000002", "13700000003", "13600000001"]


class WatchedFleet(SimFleet):
    """A fleet that remembers each agent's latest state."""

    def __init__(self, url: str, behaviour: Behaviour, seed: int = 1) -> None:
        super().__init__(url, behaviour, seed)
        self.last: dict[str, str] = {}

    def on_state(self, agent: SimAgent, st: am.StateChanged) -> None:
        """Track the state, then behave as usual."""
        self.last[agent.aid] = st.state
        super().on_state(agent, st)


@dataclass
class DrainResult:
    """What one drain run saw."""

    accepted: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    ended: dict[str, int] = field(default_factory=dict)
    held_at_exit: int = 0
    agents: int = 0
    signed_out: int = 0
    exit_code: int | None = None
    drain_seconds: float = 0.0
    in_hand_at_signal: int = 0
    records_missing: list[str] = field(default_factory=list)
    integrity: str = ""
    center: str = ""
    unanswered: int = 0
    handback_notes: int = 0
    lost_records: int = 0
    pid_file_left: bool = False


async def _drive(
    rig: Rig,
    agents: int,
    rate: float,
    seconds: float,
    aht: float,
    r: DrainResult,
    via_cli: bool,
) -> None:
    fleet = WatchedFleet(f"{rig.base}/agent", Behaviour(think=0.05, aht=aht, acw=0.3), seed=3)
    await fleet.start(rig.credentials(agents))
    sw = SimSwitch(f"{rig.base}/switch", "pbx-1", "pbx-secret", caller=Caller(), seed=5)
    await sw.connect()
    load = asyncio.create_task(poisson(sw, rate, seconds + 1.0, CALLERS))
    await asyncio.sleep(seconds)
    r.in_hand_at_signal = len(sw.calls)
    t0 = time.monotonic()
    if via_cli:  # `acd drain`: the pid file in the data folder, SIGTERM
        cmd = [sys.executable, "-m", "acd.cli", "drain", "--data-dir", str(rig.data)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"acd drain failed: {done.stderr}")
    else:
        rig.term()
    await load
    loop = asyncio.get_running_loop()
    r.exit_code = await loop.run_in_executor(None, rig.wait, 120.0)
    r.drain_seconds = time.monotonic() - t0
    r.pid_file_left = (rig.data / PID_FILE).exists()
    await asyncio.sleep(0.2)
    r.refused = dict(sw.refused)
    r.center = sw.center
    for c in sw.ended.values():
        if c.end_reason.startswith("refused:"):
            continue
        r.accepted += 1
        r.ended[c.end_reason] = r.ended.get(c.end_reason, 0) + 1
    unanswered = sw.unanswered()  # sent as the server went away: never accepted
    r.unanswered = len(unanswered)
    r.held_at_exit = sum(1 for c in sw.calls if c not in unanswered)
    r.accepted += r.held_at_exit
    r.agents = len(fleet.agents)
    r.signed_out = sum(1 for s in fleet.last.values() if s == "logged_out")
    served = [c.id for c in sw.ended.values() if not c.end_reason.startswith("refused:")]
    await sw.close()
    await fleet.stop()
    store = open_store(rig.data, writer=False)
    ids = store.call_ids()
    r.records_missing = sorted(c for c in served if c not in ids)
    r.integrity = store.check()
    r.handback_notes = len(list(store.notes(0, float("inf"), kind="handback")))
    r.lost_records = sum(1 for c in store.calls(0, float("inf")) if c.cause == "lost")
    store.close()


def run(
    folder: Path,
    agents: int = 20,
    rate: float = 30.0,
    seconds: float = 3.0,
    *,
    aht: float = 1.0,
    drain_timeout: float = 600.0,
    via_cli: bool = False,
) -> DrainResult:
    """One drain run in `folder` (agents talk `aht` seconds on average)."""
    rig = Rig.write(
        folder, agents=agents, wrap='{ mode = "timed", seconds = 2 }', drain=drain_timeout
    )
    rig.start()
    r = DrainResult()
    try:
        asyncio.run(_drive(rig, agents, rate, seconds, aht, r, via_cli))
    finally:
        rig.stop()
    return r


def main() -> int:
    """Print the figures of one drain run."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--rate", type=float, default=30.0, help="calls per second")
    p.add_argument("--seconds", type=float, default=3.0, help="load before the SIGTERM")
    p.add_argument("--aht", type=float, default=1.0, help="mean talk time, seconds")
    p.add_argument("--drain-timeout", type=float, default=600.0)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = run(
            Path(tmp),
            args.agents,
            args.rate,
            args.seconds,
            aht=args.aht,
            drain_timeout=args.drain_timeout,
        )
    print(f"calls accepted             {r.accepted}")
    print(f"calls in hand at SIGTERM   {r.in_hand_at_signal}")
    print(f"arrivals refused           {r.refused}")
    print(f"accepted calls ended       {r.ended}")
    print(f"held by the switch at exit {r.held_at_exit}")
    print(f"arrivals after exit        {r.unanswered}")
    print(f"agents signed out          {r.signed_out} / {r.agents}")
    print(f"switch told                {r.center}")
    print(f"exit code                  {r.exit_code}")
    print(f"drain took                 {r.drain_seconds:.2f} s")
    print(f"records missing            {len(r.records_missing)}")
    print(f"handed back (notes/lost)   {r.handback_notes} / {r.lost_records}")
    print(f"integrity                  {r.integrity}")
    back = r.ended.get("handback", 0)
    ok = (
        r.exit_code == 0
        and r.held_at_exit == 0
        and not r.records_missing
        and r.signed_out == r.agents
        and back == r.handback_notes == r.lost_records
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
