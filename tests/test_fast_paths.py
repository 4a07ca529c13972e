"""The shortcuts the routing hot path takes give the same answers as the long way round."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from types import MappingProxyType

from acd import events as ev
from acd.engine import Engine
from acd.invariants import violations
from acd.live import CallPhase
from acd.members import members
from acd.model import CenterConfig, Priorities
from acd.queues import Entry, GroupQueue
from acd.states import AgentState
from acd.timers import TimerHeap, cancel, cancelled, deadline
from tests.core_harness import Core, agent, center, group


def test_members_namespace_holds_the_enum_members_themselves() -> None:
    ns = members(AgentState)
    for m in AgentState:
        assert getattr(ns, m.name) is m
    assert members(CallPhase).QUEUED is CallPhase.QUEUED


def test_timers_fire_in_deadline_then_filing_order_and_cancelled_ones_never() -> None:
    heap = TimerHeap()
    fired: list[str] = []
    a = heap.add(5.0, fired.append, "a")
    heap.add(3.0, fired.append, "b")
    heap.add(5.0, fired.append, "c")
    gone = heap.add(1.0, fired.append, "gone")
    cancel(gone)
    assert cancelled(gone) and not cancelled(a)
    assert deadline(a) == 5.0
    assert len(heap) == 3
    assert heap.next_deadline() == 3.0
    assert heap.pop_due(2.0) is None
    while (t := heap.pop_due(10.0)) is not None:
        _, _, fn, arg = t
        fn(arg)
    assert fired == ["b", "a", "c"]
    assert heap.next_deadline() is None


def test_cancelled_timers_are_swept_before_their_deadline() -> None:
    heap = TimerHeap(sweep_min=1024)
    fired: list[int] = []
    kept = []
    for i in range(20_000):
        t = heap.add(1e9 + i, fired.append, i)  # far deadlines: never popped on their own
        if i % 10:
            cancel(t)  # nine in ten answered before their ring timeout
        else:
            kept.append(i)
    assert len(heap) == len(kept)
    assert len(heap.heap) <= 4 * len(kept) + 1024  # the cancelled ones did not pile up
    while (t := heap.pop_due(2e9)) is not None:
        _, _, fn, arg = t
        fn(arg)
    assert fired == kept  # every live timer fired, in deadline order


def test_lanes_of_fixed_delays_fire_with_the_heap_in_deadline_then_filing_order() -> None:
    timers = TimerHeap(sweep_min=64)
    ring, short = timers.lane(15.0), timers.lane(5.0)
    assert timers.lane(15.0) is ring
    fired: list[str] = []
    timers.add_after(ring, 0.0, fired.append, "ring-a")  # due 15
    timers.add(15.0, fired.append, "heap-15")  # same deadline, filed later
    timers.add_after(short, 1.0, fired.append, "short")  # due 6
    gone = timers.add_after(ring, 2.0, fired.append, "gone")  # due 17, cancelled
    timers.add_after(ring, 3.0, fired.append, "ring-b")  # due 18
    timers.add_after(ring, 2.5, fired.append, "late")  # due 17.5: behind the lane's tail
    cancel(gone)
    assert len(timers) == 5
    assert timers.next_deadline() == 6.0 and timers.soonest == 6.0
    assert timers.pop_due(5.9) is None
    while (t := timers.pop_due(100.0)) is not None:
        _, _, fn, arg = t
        fn(arg)
    assert fired == ["short", "ring-a", "heap-15", "late", "ring-b"]
    assert timers.next_deadline() is None and len(timers) == 0


def test_cancelled_lane_timers_are_swept_and_the_live_ones_keep_their_order() -> None:
    timers = TimerHeap(sweep_min=256)
    lane = timers.lane(1e9)
    fired: list[int] = []
    kept = []
    for i in range(5_000):
        t = timers.add_after(lane, float(i), fired.append, i)
        if i % 10:
            cancel(t)
        else:
            kept.append(i)
    assert len(timers) == len(kept)
    assert len(lane.items) - lane.head <= 4 * len(kept) + 256
    while (t := timers.pop_due(2e9)) is not None:
        _, _, fn, arg = t
        fn(arg)
    assert fired == kept


def _recount(engine: Engine, gid: str) -> dict[AgentState, int]:
    g = engine.groups[gid]
    counts: Counter[AgentState] = Counter()
    for a in engine.agents.values():
        signed_in = a.state is not AgentState.LOGGED_OUT
        if signed_in and gid in a.members and a.level(g.cfg.skill) >= g.cfg.min_level:
            counts[a.state] += 1
    return dict(counts)


def _counts(engine: Engine, gid: str) -> dict[AgentState, int]:
    return {k: v for k, v in engine.groups[gid].counts.items() if v}


def test_counts_settle_when_read_through_logout_skill_change_and_reload() -> None:
    cfg = center(
        [group("g1"), group("g2", min_level=3)],
        [agent(f"a{i}", {"g1": 5, "g2": i + 1}) for i in range(4)],
    )
    core = Core(cfg)
    core.login_ready("a0", "a1", "a2", "a3")
    core.call("c1", "g1")  # a0 is offered c1: READY -> RESERVED, counts not yet moved
    core(ev.AgentNotReady("a1", "break"))
    core(ev.AgentLogout("a1"))  # signed out while its earlier change was still unsettled
    core(ev.SetAgentSkills("a3", "sup", {"g1": 5, "g2": 1}))  # leaves g2's counts
    for gid in ("g1", "g2"):
        assert _counts(core.engine, gid) == _recount(core.engine, gid)
    assert core.engine.ready_agents("g1") == 2
    assert core.engine.signed_in("g2") == 1  # a2 only: a0, a1 lack the level, a3 dropped it
    core(ev.Reload(replace(cfg, version="v2"), "admin"))
    core(ev.AgentReady("a3"))
    core(ev.AgentNotReady("a2", "lunch"))
    for gid in ("g1", "g2"):
        assert _counts(core.engine, gid) == _recount(core.engine, gid)
    assert violations(core.engine) == []


def test_a_reload_that_changes_brand_priorities_applies_to_the_next_call() -> None:
    cfg = center([group("g")], [agent("a1", {"g": 5})])
    core = Core(cfg)
    core.call("c1", "g", brand="gotone")
    assert core.engine.calls["c1"].base == 60.0
    pr = Priorities(brands=MappingProxyType({"gotone": 90.0}), ceiling=200.0)
    new: CenterConfig = replace(cfg, priorities=pr, version="v2")
    core(ev.Reload(new, "admin"))
    core.call("c2", "g", brand="gotone")
    assert core.engine.calls["c2"].base == 90.0
    core(ev.EnqueueCall(ev.CallInfo("c3", brand="gotone"), "g", bonus=5.0))
    assert core.engine.calls["c3"].base == 95.0


def test_queue_head_stays_right_while_stale_slots_are_compacted_away() -> None:
    rng = random.Random(7)
    q = GroupQueue("g", rate=1.0, ceiling=200.0)
    live: list[Entry] = []
    now = 0.0
    for step in range(6000):
        now += 0.0371  # off the grid of ceiling times (ranks round to micro-points)
        if len(live) < 400 or rng.random() < 0.5:
            # Now and then a call filed out of arrival order (requeued after a missed offer).
            at = now if rng.random() < 0.9 else now - rng.uniform(0.0, 150.0)
            e = Entry(f"c{step}", "g", rng.choice([10.0, 20.0, 60.0, 100.0]), at, 1)
            q.push(e, (), now)
            live.append(e)
        else:
            gone = live.pop(rng.randrange(len(live)))
            q.remove(gone)
        best = q.head(now)
        assert best is min(live, key=lambda x: q.rank(x, now))
    assert q.count == len(live) == sum(1 for _ in q.entries())
    assert q.slots() <= 4 * q.count + 256  # removed entries did not pile up


def test_positions_of_many_entries_at_once_match_one_at_a_time() -> None:
    rng = random.Random(11)
    q = GroupQueue("g", rate=1.0, ceiling=120.0)
    live: list[Entry] = []
    for i in range(300):
        e = Entry(f"c{i}", "g", rng.choice([0.0, 20.0, 60.0]), i * 0.5 - rng.uniform(0, 40), 1)
        q.push(e, ("north",) if i % 3 else ("south",), i * 0.5)  # two sub-queues
        live.append(e)
    for gone in rng.sample(live, 50):
        q.remove(gone)
        live.remove(gone)
    for now in (150.0, 190.0, 400.0):  # some below the ceiling, some at it, then all at it
        asked = rng.sample(live, 40)
        assert q.positions(asked, now) == [q.position(e, now) for e in asked]
        ahead = sorted(q.position(e, now) for e in live)
        assert ahead == list(range(len(live)))  # each place held once
    assert q.positions(live[:1], 400.0) == [q.position(live[0], 400.0)]
