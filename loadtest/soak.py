"""Soak: a live server under steady load for a long time.

    python -m loadtest.soak --minutes 20 --fraction 0.5 --agents 50 --aht 4

The offered load is `fraction` of the agents' capacity (agents / mean handle time, calls a
second). Every `--every` seconds it prints the server's RSS, open descriptors, websocket
connections, calls waiting and in progress, and the journal's size on disk, and checks the
core's invariants (`/debug/state`). At the end: RSS growth from the end of the warm-up
(`--warmup` minutes) to the end, and every invariant violation seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from loadtest.rig import SWITCH_TOKEN, Rig, open_fds, rss_kib
from loadtest.sim_agents import Behaviour, SimFleet
from loadtest.sim_switch import Caller, SimSwitch, poisson

CALLERS = [f"139{i:08d}" for i in range(200)]


async def _soak(rig: Rig, a: argparse.Namespace) -> int:
    fleet = SimFleet(f"{rig.base}/agent", Behaviour(think=0.1, aht=a.aht, acw=0.0), seed=4)
    await fleet.start(rig.credentials(a.agents))
    sw = SimSwitch(f"{rig.base}/switch", "pbx-1", SWITCH_TOKEN, caller=Caller(patience=60), seed=4)
    await sw.connect()
    rate = a.fraction * a.agents / a.aht
    end = time.monotonic() + a.minutes * 60
    t0 = time.monotonic()
    load = asyncio.create_task(poisson(sw, rate, a.minutes * 60, CALLERS))
    print(f"offered {rate:.2f} calls/s ({a.fraction:.0%} of {a.agents} agents / {a.aht:g} s)")
    print("   t_s  rss_kib  fds  conns  waiting  in_progress  journal_kib  violations")
    warm_rss = 0
    violations: list[str] = []
    loop = asyncio.get_running_loop()
    while time.monotonic() < end:
        await asyncio.sleep(a.every)
        status, body = await loop.run_in_executor(None, rig.http, "/debug/state")
        if status != 200:
            print(f"/debug/state answered {status}")
            return 1
        st = json.loads(body)
        phases = [c["phase"] for c in st["calls"].values()]
        waiting = sum(p in ("queued", "assigned") for p in phases)
        busy = sum(p in ("offered", "connecting", "connected") for p in phases)
        violations += st["violations"]
        rss = rss_kib(rig.pid)
        t = time.monotonic() - t0
        if not warm_rss and t >= a.warmup * 60:
            warm_rss = rss
        print(
            f"{t:6.0f}  {rss:7}  {open_fds(rig.pid):3}  {st['connections']:5}  {waiting:7}  "
            f"{busy:11}  {st['journal_bytes'] // 1024:11}  {len(st['violations']):10}"
        )
    placed = await load
    final = rss_kib(rig.pid)
    await sw.close()
    await fleet.stop()
    growth = (final - warm_rss) / warm_rss if warm_rss else float("nan")
    print(f"calls placed               {placed}, offers {fleet.stats.offers}")
    print(f"RSS after warm-up / end    {warm_rss} / {final} KiB: growth {growth:+.1%}")
    print(f"invariant violations       {len(violations)}")
    for v in violations[:10]:
        print(f"  {v}")
    return 0 if not violations else 1


def main() -> int:
    """Run the soak and print the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=20.0)
    p.add_argument("--warmup", type=float, default=2.0, help="minutes before the RSS baseline")
    p.add_argument("--fraction", type=float, default=0.5, help="share of the agents' capacity")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--aht", type=float, default=4.0, help="mean talk seconds")
    p.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rig = Rig.write(Path(tmp), agents=args.agents)
        rig.start()
        try:
            return asyncio.run(_soak(rig, args))
        finally:
            rig.stop()


if __name__ == "__main__":
    sys.exit(main())
