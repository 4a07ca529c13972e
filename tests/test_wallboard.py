"""The wallboard's figures and its coalescing, on the pure engine with a simulated clock."""

from __future__ import annotations

import itertools

from core_harness import Core, agent, center, group

from acd import events as ev
from acd.engine import Engine
from acd.model import ServiceTarget, WrapUp, WrapUpMode
from agent_gateway.wallboard import FeedCore, View, agent_row, group_row, render_agent

T0 = 1_699_999_200.0  # on a 15-minute boundary (UTC)


def core() -> Core:
    cfg = center(
        [
            group(
                "g",
                target=ServiceTarget(0.8, 20),
                wrap_up=WrapUp(WrapUpMode.TIMED, 10),
                ring_timeout=30,
            ),
            group("h"),
        ],
        [agent("a1", {"g": 5}, team="t"), agent("a2", {"h": 5}, team="u")],
    )
    return Core(cfg, now=T0)


def everyone(engine: Engine) -> View:
    return View(list(engine.groups), set(engine.agents))


def skilled_in_g(engine: Engine) -> View:
    return View(["g"], {a.id for a in engine.agents.values() if a.level("g") >= 1})


def test_group_figures_by_hand() -> None:
    c = core()
    c.call("c1", "g")
    c.call("c2", "g")
    c.at(T0 + 10).login_ready("a1")  # c1 offered after 10 s of waiting
    c.answer("a1", "c1")
    c.at(T0 + 30)(ev.CallerHangup("c2"))  # abandoned after 30 s > 20 s: counts against SL
    c.at(T0 + 70)(ev.CallerHangup("c1"))  # talk 60 s, then 10 s of timed wrap-up
    c.tick(T0 + 80)
    row = group_row(c.engine, c.engine.groups["g"], T0 + 81)
    today = row["today"]
    assert (today["offered"], today["answered"], today["abandoned"]) == (2, 1, 1)
    assert today["service_level"] == 0.5  # 1 within 20 s / (1 answered + 1 abandoned late)
    assert today["asa"] == 10.0 and today["aht"] == 70.0 and today["abandon_rate"] == 0.5
    assert row["interval"] == today  # all inside one 15-minute interval
    assert row["waiting"] == 0 and row["agents"] == {"ready": 1}
    assert row["target"] == {"ratio": 0.8, "seconds": 20}
    # an hour later the interval has rolled over (read as empty, without rolling the engine)
    later = group_row(c.engine, c.engine.groups["g"], T0 + 3600)
    assert later["interval"]["offered"] == 0 and later["today"]["offered"] == 2
    assert c.engine.groups["g"].stats.interval.offered == 2  # untouched


def test_agent_row_and_time_derived_figures() -> None:
    c = core()
    c.login_ready("a1")
    c.call("c1", "g")
    c.at(T0 + 5).answer("a1", "c1")
    row = agent_row(c.engine.agents["a1"])
    assert row["state"] == "on_call" and row["call_id"] == "c1" and row["call_group"] == "g"
    shown = render_agent(row, T0 + 65)
    assert shown["time_in_state"] == 60.0 and shown["call_seconds"] == 60.0
    idle = render_agent(agent_row(c.engine.agents["a2"]), T0 + 65)
    assert idle["state"] == "logged_out" and idle["time_in_state"] is None


def test_burst_is_coalesced_to_two_updates_per_second() -> None:
    c = core()
    feed = FeedCore(period=0.5)
    feed.join("all", everyone, c.engine)
    snap = feed.snapshot(c.engine, "all", T0)
    assert set(snap.agents) == {"a1", "a2"} and set(snap.groups) == {"g", "h"}
    c.login_ready("a1", "a2")
    sent: list[tuple[float, int]] = []
    t = T0
    for i in range(1000):  # an event every 10 ms for 10 simulated seconds
        t = T0 + 0.01 * (i + 1)
        c.at(t)
        outs = c(ev.AgentNotReady("a1", "break")) if i % 2 else c(ev.AgentReady("a1"))
        if i % 100 == 0:
            outs += c.call(f"c{i}", "h")
        if feed.changed(outs) and (due := feed.due(t)) is not None and due <= t:
            deltas = feed.flush(c.engine, t)
            sent.append((t, len(deltas)))
    assert 15 <= len(sent) <= 10 / 0.5 + 1
    assert all(b - a >= 0.5 - 1e-9 for (a, _), (b, _) in itertools.pairwise(sent))
    # nothing is lost: after the last flush the board equals the engine
    if (due := feed.due(t)) is not None:
        feed.flush(c.engine, max(t, due))
    for aid, a in c.engine.agents.items():
        assert feed.agents[aid] == agent_row(a)
    assert feed.groups["h"]["waiting"] == len(c.engine.groups["h"].home)


def test_time_alone_makes_no_agent_delta_but_interval_rollover_does() -> None:
    c = core()
    feed = FeedCore(period=0.5)
    feed.join("all", everyone, c.engine)
    feed.snapshot(c.engine, "all", T0)
    c.login_ready("a1")
    c.call("c1", "h")
    feed.changed(c.log)
    first = feed.flush(c.engine, T0 + 1)["all"]
    assert set(first.agents) == {"a1"} and first.groups["h"]["waiting"] == 1
    feed.poke()
    assert feed.flush(c.engine, T0 + 60) == {}  # a minute passed, nothing changed
    feed.poke()
    rolled = feed.flush(c.engine, T0 + 901)["all"]  # the next 15-minute interval
    assert rolled.agents == {} and rolled.groups["h"]["interval"]["offered"] == 0


def test_scopes_see_their_own_rows_and_membership_follows_skills() -> None:
    c = core()
    feed = FeedCore(period=0.5)
    feed.join("all", everyone, c.engine)
    feed.join("g-only", skilled_in_g, c.engine)
    assert set(feed.snapshot(c.engine, "g-only", T0).agents) == {"a1"}
    c.login_ready("a1", "a2")
    feed.changed(c.log)
    out = feed.flush(c.engine, T0 + 1)
    assert set(out["all"].agents) == {"a1", "a2"} and set(out["g-only"].agents) == {"a1"}
    assert set(out["g-only"].groups) <= {"g"}
    outs = c(ev.SetAgentSkills("a2", "sup", skills={"h": 5, "g": 3}))
    feed.changed(outs)
    out = feed.flush(c.engine, T0 + 2)
    assert "a2" in out["g-only"].agents  # came into view with its whole row
    outs = c(ev.SetAgentSkills("a2", "sup", skills={"h": 5}))
    feed.changed(outs)
    out = feed.flush(c.engine, T0 + 3)
    assert out["g-only"].removed == ["a2"]
    feed.leave("g-only")
    feed.leave("all")
    assert not feed.watched and not feed.changed(c(ev.AgentNotReady("a1", "break")))


def test_a_late_snapshot_does_not_swallow_changes_owed_to_others() -> None:
    c = core()
    feed = FeedCore(period=0.5)
    feed.join("all", everyone, c.engine)
    feed.snapshot(c.engine, "all", T0)
    c.login_ready("a1")
    new = c.engine.config
    feed.changed(c.log + c(ev.Reload(new, actor="boss")))  # forces a full rebuild
    feed.join("g-only", skilled_in_g, c.engine)
    late = feed.snapshot(c.engine, "g-only", T0 + 0.1)  # rebuilds the board now
    assert late.agents["a1"]["state"] == "ready"
    out = feed.flush(c.engine, T0 + 0.5)
    assert out["all"].agents["a1"]["state"] == "ready"  # still delivered to "all"
