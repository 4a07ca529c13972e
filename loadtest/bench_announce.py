"""CPU a second of queue announcements, by the number of callers waiting.

Every waiting caller hears their place and estimated wait every `announce_period` seconds
(30 by default): with N waiting, N / period announcements a second. The switch link plays
them from its sweep (four a second), and asks the core for all of a sweep's places at once
(`Engine.waits`: one pass over each queue and a sort). Asked one call at a time
(`Engine.position` then `estimated_wait`: a pass over the queue apiece), the same second
costs N² / period rank computations: what a storm of thousands of waiting callers would cost
a server that did that. Both are timed here on the real core, one group with four brands and
ageing, the calls waiting at once.

    python -m loadtest.bench_announce                 # 1,000, 5,000 and 10,000 waiting
    python -m loadtest.bench_announce --waiting 20000 --json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from types import MappingProxyType

from acd import events as ev
from acd.engine import Engine
from acd.model import AgentConfig, CenterConfig, Priorities, SkillGroup, WrapUp, WrapUpMode
from loadtest.bench_core import BRANDS, core_build

SWEEPS = 4  # a second: the switch link's sweep runs every 0.25 s


def waiting_center(waiting: int, seed: int) -> Engine:
    """An engine with one group, one agent talking (so waits are finite) and `waiting`
    calls queued a millisecond apart at mixed priorities."""
    g = SkillGroup(
        id="g",
        name="G",
        skill="s",
        ring_timeout=1e9,  # the busy call rings on while the queue fills
        wrap_up=WrapUp(WrapUpMode.NONE, 0.0),
        ageing_rate=1.0,
        ageing_cap=200.0,
    )
    a = AgentConfig(id="a", number="100", skills=MappingProxyType({"s": 5}), groups=("g",))
    cfg = CenterConfig(
        priorities=Priorities(brands=MappingProxyType(BRANDS), ceiling=200.0),
        groups=MappingProxyType({"g": g}),
        agents=MappingProxyType({"a": a}),
    )
    eng = Engine(cfg)
    rng = random.Random(seed)
    eng.handle(ev.AgentLogin("a"), 0.0)
    eng.handle(ev.AgentReady("a"), 0.0)
    eng.handle(ev.EnqueueCall(ev.CallInfo("busy"), "g"), 0.0)  # offered to a: staffed, busy
    t = 0.0
    brands = list(BRANDS)
    for i in range(waiting):
        t += 0.001
        eng.handle(ev.EnqueueCall(ev.CallInfo(f"c{i}", brand=rng.choice(brands)), "g"), t)
    return eng


def one_second(eng: Engine, waiting: int, period: float, batched: bool) -> float:
    """CPU seconds of one second's announcements (every `period` s for each caller)."""
    due = max(1, round(waiting / period))
    step = max(1, waiting // due)
    ids = [f"c{i}" for i in range(0, waiting, step)][:due]
    start = time.process_time()
    if batched:
        for k in range(SWEEPS):
            eng.waits(ids[k::SWEEPS])
    else:
        for cid in ids:
            eng.position(cid)
            eng.estimated_wait(cid)
    return time.process_time() - start


def main(argv: list[str] | None = None) -> int:
    """Print the figures (a table, or JSON with --json)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--waiting", type=int, nargs="+", default=[1000, 5000, 10000])
    p.add_argument("--period", type=float, default=30.0, help="announce_period, seconds")
    p.add_argument("--repeat", type=int, default=3, help="rounds; the best is reported")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    rows = []
    for n in a.waiting:
        eng = waiting_center(n, a.seed)
        swept = min(one_second(eng, n, a.period, True) for _ in range(a.repeat))
        single = min(one_second(eng, n, a.period, False) for _ in range(a.repeat))
        rows.append(
            {
                "waiting": n,
                "announcements_per_s": round(n / a.period),
                "cpu_ms_per_s_sweeps": round(swept * 1e3, 2),
                "cpu_ms_per_s_one_at_a_time": round(single * 1e3, 2),
            }
        )
    if a.json:
        print(json.dumps({"core": core_build(), "period": a.period, "rows": rows}))
        return 0
    print(f"core: {core_build()}; announce_period {a.period:g} s (best of {a.repeat})")
    print(f"{'waiting':>8}{'announced /s':>14}{'sweeps ms/s':>14}{'one at a time ms/s':>20}")
    for r in rows:
        print(
            f"{r['waiting']:>8,}{r['announcements_per_s']:>14,}"
            f"{r['cpu_ms_per_s_sweeps']:>14.1f}{r['cpu_ms_per_s_one_at_a_time']:>20.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
