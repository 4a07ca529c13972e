"""Matching in both directions: strategies, priorities, ageing, group order, attributes."""

from __future__ import annotations

import pytest
from core_harness import Core, agent, center, group

from acd import events as ev
from acd.model import Strategy, WrapUp, WrapUpMode

NO_WRAP = WrapUp(WrapUpMode.NONE, 0)


def test_call_goes_to_longest_idle_agent() -> None:
    core = Core(center([group("g")], [agent(a, {"g": 5}) for a in ("a1", "a2", "a3")]))
    core.login_ready("a2")
    core.at(1).login_ready("a3")
    core.at(2).login_ready("a1")
    core.at(3).call("c1", "g")
    assert core.offered_to("c1") == "a2"
    core.call("c2", "g")
    assert core.offered_to("c2") == "a3"


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        (Strategy.MOST_SKILLED, "a3"),  # level 9
        (Strategy.LONGEST_IDLE, "a1"),
        (Strategy.LEAST_VERSATILE, "a2"),  # serves one city
    ],
)
def test_strategies_pick_the_expected_agent(strategy: Strategy, expected: str) -> None:
    agents = [
        agent("a1", {"g": 5}, attributes={"cities": ["x", "y", "z"]}),
        agent("a2", {"g": 3}, attributes={"cities": ["x"]}),
        agent("a3", {"g": 9}, attributes={"cities": ["x", "y"]}),
    ]
    core = Core(center([group("g", strategy=strategy, match=(("city", "cities"),))], agents))
    for i, a in enumerate(("a1", "a2", "a3")):
        core.at(i).login_ready(a)
    core.at(10).call("c1", "g", city="x")
    assert core.offered_to("c1") == expected


def test_fewest_calls_and_least_talk_time_prefer_the_less_worked_agent() -> None:
    for strategy in (Strategy.FEWEST_CALLS, Strategy.LEAST_TALK_TIME):
        core = Core(
            center(
                [group("g", strategy=strategy, wrap_up=NO_WRAP)],
                [agent("a1", {"g": 5}), agent("a2", {"g": 5})],
            )
        )
        core.login_ready("a1")
        core.at(1).login_ready("a2")
        core.at(2).call("c1", "g")
        assert core.offered_to("c1") == "a1"
        core.answer("a1", "c1")
        core.at(100)(ev.AgentLegEnded("c1", "a1"))  # a1 worked one 98 s call, a2 none
        core.at(101).call("c2", "g")
        assert core.offered_to("c2") == "a2", strategy


def test_the_day_counts_of_fewest_calls_start_again_at_local_midnight() -> None:
    def worked_day() -> Core:
        # a2 handles two short calls, a1 one long one that ends last (UTC center, t=0 is
        # midnight): a1 has fewer calls, a2 has been idle longer
        core = Core(
            center(
                [group("g", strategy=Strategy.FEWEST_CALLS, wrap_up=NO_WRAP)],
                [agent("a1", {"g": 5}), agent("a2", {"g": 5})],
            )
        )
        core.login_ready("a2")
        core.at(1).login_ready("a1")
        core.at(2).call("c1", "g")
        core.answer("a2", "c1")
        core.at(10)(ev.AgentLegEnded("c1", "a2"))
        core.at(11).call("c2", "g")
        core.answer("a1", "c2")  # fewer calls
        core.at(12).call("c3", "g")
        core.answer("a2", "c3")  # the only one idle
        core.at(30)(ev.AgentLegEnded("c3", "a2"))
        core.at(50)(ev.AgentLegEnded("c2", "a1"))
        return core

    same_day = worked_day()
    same_day.at(86_000).call("c4", "g")
    assert same_day.offered_to("c4") == "a1"  # fewer calls today
    next_day = worked_day()
    next_day.at(86_405).call("c4", "g")  # both idle through midnight: counts start again
    assert next_day.offered_to("c4") == "a2"  # a tie, so the longest idle
    assert next_day.engine.agents["a1"].handled == 0


def test_round_robin_rotates_through_agents() -> None:
    core = Core(
        center(
            [group("g", strategy=Strategy.ROUND_ROBIN, wrap_up=NO_WRAP)],
            [agent(a, {"g": 5}) for a in ("a1", "a2", "a3")],
        )
    )
    core.login_ready("a1", "a2", "a3")
    order = []
    for i in range(6):
        cid = f"c{i}"
        core.at(10 * i + 1).call(cid, "g")
        who = core.offered_to(cid)
        assert who is not None
        order.append(who)
        core.answer(who, cid)
        core(ev.AgentLegEnded(cid, who), 1)
    assert order[:3] == ["a1", "a2", "a3"]
    assert order[3:] == order[:3]


def test_random_strategy_is_reproducible_with_a_seed() -> None:
    def run(seed: int) -> list[str]:
        core = Core(
            center(
                [group("g", strategy=Strategy.RANDOM)], [agent(f"a{i}", {"g": 5}) for i in range(8)]
            ),
            seed=seed,
        )
        core.login_ready(*[f"a{i}" for i in range(8)])
        for i in range(5):
            core.call(f"c{i}", "g")
        return [a for _, a in core.offers()]

    assert run(7) == run(7)
    assert len(set(run(7))) == 5


def test_waiting_calls_are_served_by_priority_then_arrival() -> None:
    core = Core(center([group("g", ageing_rate=0.0)], [agent("a1", {"g": 5})]))
    core(ev.AgentLogin("a1"))
    core.at(1).call("easy", "g", brand="easyown")
    core.at(2).call("goto", "g", brand="gotone")
    core.at(3).call("vip", "g", brand="vip")
    core.at(4).call("goto2", "g", brand="gotone")
    core(ev.AgentReady("a1"))
    served = []
    for _ in range(4):
        cid = core.engine.agents["a1"].offer.id  # type: ignore[union-attr]
        served.append(cid)
        core.answer("a1", cid)
        core(ev.AgentLegEnded(cid, "a1"), 1)
        core(ev.FinishWrapUp("a1"))
    assert served == ["vip", "goto", "goto2", "easy"]


def test_ageing_lets_an_old_low_priority_call_pass_a_new_high_one() -> None:
    # spread 100 - 10 = 90 points at 1 point/s: after 90 s nothing newer overtakes
    core = Core(center([group("g", ageing_rate=1.0, ageing_cap=1000.0)], [agent("a1", {"g": 5})]))
    core(ev.AgentLogin("a1"))
    core.at(0).call("old", "g", brand="easyown")  # base 10
    core.at(95).call("new", "g", brand="vip")  # base 100: 100 < 10 + 95
    core(ev.AgentReady("a1"))
    assert core.offered_to("old") == "a1"


def test_a_higher_priority_call_passes_a_recent_low_one() -> None:
    core = Core(center([group("g", ageing_rate=1.0, ageing_cap=1000.0)], [agent("a1", {"g": 5})]))
    core(ev.AgentLogin("a1"))
    core.at(0).call("old", "g", brand="easyown")
    core.at(50).call("new", "g", brand="vip")  # 100 > 10 + 50
    core(ev.AgentReady("a1"))
    assert core.offered_to("new") == "a1"


def test_calls_at_the_ageing_ceiling_go_in_arrival_order() -> None:
    # ceiling = floor 0 + cap 200; gotone (60) reaches it at t=140, vip (100, at t=1) at t=101
    core = Core(center([group("g", ageing_rate=1.0, ageing_cap=200.0)], [agent("a1", {"g": 5})]))
    core(ev.AgentLogin("a1"))
    core.at(0).call("gotone", "g", brand="gotone")
    core.at(1).call("vip", "g", brand="vip")
    core.at(500)(ev.AgentReady("a1"))
    assert core.offered_to("gotone") == "a1"  # without a ceiling vip (599) would beat 560
    # below the ceiling, priority still rules
    core2 = Core(center([group("g", ageing_rate=1.0, ageing_cap=200.0)], [agent("a1", {"g": 5})]))
    core2(ev.AgentLogin("a1"))
    core2.at(0).call("gotone", "g", brand="gotone")
    core2.at(1).call("vip", "g", brand="vip")
    core2.at(50)(ev.AgentReady("a1"))
    assert core2.offered_to("vip") == "a1"


def test_no_ageing_means_strict_priority() -> None:
    core = Core(center([group("g", ageing_rate=0.0)], [agent("a1", {"g": 5})]))
    core(ev.AgentLogin("a1"))
    core.at(0).call("old", "g", brand="easyown")
    core.at(10_000).call("new", "g", brand="vip")
    core(ev.AgentReady("a1"))
    assert core.offered_to("new") == "a1"
    assert core.engine.config.starvation_bound(core.engine.config.groups["g"]) is None


def test_agent_serves_its_own_group_order_first() -> None:
    core = Core(
        center(
            [group("vip"), group("general")],
            [agent("a1", {"vip": 5, "general": 5}, groups=["general", "vip"])],
        )
    )
    core(ev.AgentLogin("a1"))
    core.at(1).call("v", "vip", brand="vip")
    core.at(2).call("g", "general", brand="easyown")
    core(ev.AgentReady("a1"))
    assert core.offered_to("g") == "a1"


def test_calls_only_reach_agents_with_the_skill_level_and_city() -> None:
    agents = [
        agent("low", {"g": 2}, attributes={"cities": ["gz"]}),
        agent("sz", {"g": 8}, attributes={"cities": ["sz"]}),
        agent("gz", {"g": 8}, attributes={"cities": ["gz"]}),
    ]
    core = Core(center([group("g", min_level=5, match=(("city", "cities"),))], agents))
    core.login_ready("low", "sz")
    core.at(1).call("c1", "g", city="gz")
    assert core.offered_to("c1") is None
    core.login_ready("gz")
    assert core.offered_to("c1") == "gz"
    # a call without a city can go to any agent of the group
    core.call("c2", "g")
    assert core.offered_to("c2") == "sz"


def test_one_offer_per_agent_and_one_agent_per_call() -> None:
    core = Core(center([group("g")], [agent("a1", {"g": 5})]))
    core.login_ready("a1")
    core.call("c1", "g")
    core.call("c2", "g")
    assert core.offers() == [("c1", "a1")]
    assert core.engine.calls["c2"].phase.value == "queued"


def test_agent_ready_takes_the_oldest_of_equal_calls() -> None:
    core = Core(center([group("g")], [agent("a1", {"g": 5})]))
    core(ev.AgentLogin("a1"))
    for i in range(5):
        core.at(i).call(f"c{i}", "g")
    core(ev.AgentReady("a1"))
    assert core.offered_to("c0") == "a1"
    assert core.engine.position("c1") == 0
    assert core.engine.position("c4") == 3
