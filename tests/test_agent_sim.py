"""Simulated agents (both clients) over real websockets: they take calls, miss some, and measure
latency."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from agent_fixture import make_settings, running, secret, url
from core_harness import group

from acd import events as ev
from loadtest.bench_agents import BenchSwitch
from loadtest.lean_agents import LeanFleet
from loadtest.sim_agents import Behaviour, SimFleet


@pytest.mark.parametrize("fleet_class", [SimFleet, LeanFleet], ids=["full", "lean"])
async def test_fleet_takes_calls_misses_some_and_reports_latency(
    tmp_path, fleet_class: Any
) -> None:  # type: ignore[no-untyped-def]
    ids = [f"a{i}" for i in range(12)]
    groups = [group("g", ring_timeout=0.3, reject_delay=0.0)]
    async with running(make_settings(groups, agents=ids), tmp_path) as app:
        sw = BenchSwitch(app)
        await sw.start(app)
        ended: list[ev.CallEnded] = []
        app.core.subscribe(
            lambda outs: ended.extend(o for o in outs if isinstance(o, ev.CallEnded))
        )
        b = Behaviour(think=0.01, aht=0.05, acw=0.02, miss_rate=0.2, not_ready_rate=0.1,
                      break_seconds=0.05)  # fmt: skip
        fleet = fleet_class(url(app), b, seed=5)
        await fleet.start([(a, secret(a)) for a in ids])
        assert all(a.last_seq > 0 for a in fleet.agents)
        for n in range(40):
            app.core.submit(ev.EnqueueCall(ev.CallInfo(f"c{n}", caller="13800000000"), "g"))
            await asyncio.sleep(0.01)
        for _ in range(300):
            if len(ended) == 40:
                break
            await asyncio.sleep(0.02)
        assert len(ended) == 40 and all(e.cause is ev.EndCause.COMPLETED for e in ended)
        st = fleet.stats
        assert st.accepted >= 40 and st.rejected + st.missed > 0 and st.hangups >= 40
        assert len(st.latencies) == st.offers and st.percentile(0.5) >= 0
        await fleet.stop()
