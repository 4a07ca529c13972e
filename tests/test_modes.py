"""The three 10086 routing modes, as configured in config/, through the real engine.

Each scenario drives `Engine.handle(event, t)` with explicit times (a simulated clock) and
asserts who is offered what, and when rules fire or do not; never how fast.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd import events as ev
from acd.config import load_config
from acd.engine import Engine
from acd.events import CallInfo, CallKind, Output
from acd.model import OverflowAction

CONFIG = Path(__file__).resolve().parent.parent / "config"
# A Tuesday morning in the centers' time zone: every group is open.
T0 = dt.datetime(2025, 3, 4, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()

SOUTH = ("nanjing", "zhenjiang", "changzhou", "wuxi", "suzhou", "nantong", "yangzhou", "taizhou")
NORTH = ("xuzhou", "lianyungang", "suqian", "huaian", "yancheng")


class Center:
    """An engine on a simulated clock, with the steps a switch and desktops would send."""

    def __init__(self, config: str) -> None:
        self.cfg = load_config(CONFIG / config)
        self.engine = Engine(self.cfg, now=T0)
        self.t = T0
        self.log: list[Output] = []

    def send(self, event: ev.Event, after: float = 0.0) -> list[Output]:
        """Handle one event `after` seconds from the last one."""
        self.t += after
        out = self.engine.handle(event, self.t)
        self.log.extend(out)
        return out

    def wait(self, seconds: float) -> list[Output]:
        """Let time pass; return what the timers did."""
        return self.send(ev.Tick(), seconds)

    def sign_in(self, *agents: str) -> list[Output]:
        """Sign agents in and make them ready, in this order."""
        out: list[Output] = []
        for a in agents:
            out += self.send(ev.AgentLogin(a))
            out += self.send(ev.AgentReady(a))
        return out

    def call(
        self,
        call_id: str,
        group: str,
        brand: str,
        city: str | None = None,
        vip: int = 0,
        after: float = 0.0,
    ) -> list[Output]:
        """A caller reaches the queue of `group` (as the IVR would enqueue it)."""
        attributes = {"city": city} if city else {}
        info = CallInfo(
            call_id, caller=f"1380000{call_id}", brand=brand, vip=vip, attributes=attributes
        )
        return self.send(ev.EnqueueCall(info, group), after)

    def answer(self, agent: str, call_id: str) -> list[Output]:
        """The agent accepts the offer and the switch connects it."""
        return self.send(ev.AcceptOffer(agent, call_id)) + self.send(
            ev.AgentLegAnswered(call_id, agent)
        )

    def finish(self, agent: str, call_id: str, after: float = 0.0) -> list[Output]:
        """The agent hangs up and ends wrap-up at once (and may be offered the next call)."""
        return self.send(ev.AgentLegEnded(call_id, agent), after) + self.send(
            ev.FinishWrapUp(agent)
        )

    def serve(self, agent: str, call_id: str, after: float = 0.0) -> list[Output]:
        """Answer the call offered to `agent`, then finish it; return what followed."""
        self.answer(agent, call_id)
        return self.finish(agent, call_id, after)


def offers(out: Iterable[Output]) -> list[tuple[str, str]]:
    """(call, agent) of every offer, in order."""
    return [(o.call_id, o.agent_id) for o in out if isinstance(o, ev.CallOffered)]


def overflows(out: Iterable[Output]) -> list[ev.CallOverflowed]:
    """Every overflow fired."""
    return [o for o in out if isinstance(o, ev.CallOverflowed)]


def offered_to(out: Iterable[Output], call_id: str) -> str | None:
    """The agent a call was offered to, if any."""
    return next((a for c, a in offers(out) if c == call_id), None)


# ------------------------------------------------------------------------------- mode 1


def test_mode1_one_group_per_brand_without_overflow() -> None:
    c = Center("mode1.toml")
    assert set(c.cfg.groups) == {"vip", "gotone", "mzone", "easyown"}
    assert all(not g.overflow and not g.match for g in c.cfg.groups.values())

    c.sign_in("1001", "1101", "1201", "1301")
    out = c.call("v1", "vip", "gotone", "xuzhou", vip=2)
    out += c.call("g1", "gotone", "gotone", "nanjing")
    out += c.call("m1", "mzone", "mzone", "suqian")
    out += c.call("e1", "easyown", "easyown", "suzhou")
    # Each brand is answered by its own group's agent, whatever the city.
    assert offers(out) == [("v1", "1001"), ("g1", "1101"), ("m1", "1201"), ("e1", "1301")]
    for call_id, agent in offers(out):
        group = next(o.group for o in out if isinstance(o, ev.CallOffered) and o.call_id == call_id)
        assert c.cfg.agents[agent].groups == (group,)

    # The GoTone agent is busy: a second GoTone caller waits, while the VIP agent (free again)
    # stays idle, for as long as it takes. Groups never lend agents to one another.
    c.answer("1101", "g1")
    c.serve("1001", "v1")
    out = c.call("g2", "gotone", "gotone", "wuxi", after=1)
    out += c.wait(600)
    out += c.wait(3000)
    assert offers(out) == []
    assert overflows(c.log) == []
    assert c.engine.call("g2").group == "gotone"

    # When the GoTone agent is free, it takes the waiting GoTone caller.
    out = c.finish("1101", "g1")
    assert offers(out) == [("g2", "1101")]


# ------------------------------------------------------------------------------- mode 2


def test_mode2_calls_stay_in_their_region_sub_group() -> None:
    c = Center("mode2.toml")
    south, north = "1201", "1251"  # M-Zone south and north sub-groups
    assert set(c.cfg.agents[south].attributes["cities"]) == set(SOUTH)
    assert set(c.cfg.agents[north].attributes["cities"]) == set(NORTH)
    c.sign_in(north, south)  # the northern agent has been idle the longest

    # A southern caller goes to the southern agent, a northern one to the northern agent.
    out = c.call("m1", "mzone", "mzone", "nanjing")
    assert offers(out) == [("m1", south)]
    c.answer(south, "m1")
    out = c.call("m2", "mzone", "mzone", "nanjing", after=1)
    assert offers(out) == []  # the idle northern agent does not take a southern caller
    out = c.wait(1800)
    assert offers(out) == [] and overflows(c.log) == []
    out = c.call("m3", "mzone", "mzone", "yancheng", after=1)
    assert offers(out) == [("m3", north)]

    # The southern caller is answered by its own sub-group as soon as it has an agent.
    out = c.finish(south, "m1")
    assert offers(out) == [("m2", south)]


def test_mode2_small_brands_are_province_wide() -> None:
    c = Center("mode2.toml")
    c.sign_in("1101")
    out = c.call("g1", "gotone", "gotone", "nanjing")
    c.answer("1101", "g1")
    out += c.call("g2", "gotone", "gotone", "xuzhou", after=1)
    out += c.finish("1101", "g1", after=30)
    assert offers(out) == [("g1", "1101"), ("g2", "1101")]


# ------------------------------------------------------------------------------- mode 3


def test_mode3_answers_vip_then_gotone_then_waiting_mzone() -> None:
    c = Center("mode3.toml")
    senior = "3031"  # every city, both groups, VIP/GoTone first
    assert c.cfg.agents[senior].groups == ("vip-gotone", "general")
    c.sign_in(senior)
    c.call("g0", "vip-gotone", "gotone", "nanjing")
    c.answer(senior, "g0")

    # While the senior agent talks, an M-Zone caller waits first, then GoTone, then a VIP.
    c.call("m1", "general", "mzone", "nanjing", after=1)
    c.call("g1", "vip-gotone", "gotone", "nanjing", after=1)
    c.call("v1", "vip-gotone", "gotone", "nanjing", vip=2, after=1)

    order = []
    out = c.finish(senior, "g0", after=2)
    while (nxt := offers(out)) != []:
        order.append(nxt[0][0])
        out = c.serve(senior, nxt[0][0], after=1)
    assert order == ["v1", "g1", "m1"]


def test_mode3_ageing_lets_a_long_wait_pass_a_new_vip() -> None:
    c = Center("mode3.toml")
    c.sign_in("3001")
    c.call("g0", "vip-gotone", "gotone", "nanjing")
    c.answer("3001", "g0")
    c.call("g1", "vip-gotone", "gotone", "zhenjiang", after=1)
    # 300 + 2 x 160 points against a silver VIP's 500 + 2 x 10: the long wait goes first.
    c.call("v1", "vip-gotone", "gotone", "nanjing", vip=1, after=150)
    out = c.finish("3001", "g0", after=10)
    assert offers(out) == [("g1", "3001")]
    bound = c.cfg.starvation_bound(c.cfg.groups["vip-gotone"])
    assert bound is not None and math.isfinite(bound)


def test_mode3_specialists_take_calls_first() -> None:
    c = Center("mode3.toml")
    tier2, tier4, tier13 = "3001", "3011", "3031"
    cities = {a: len(c.cfg.agents[a].attributes["cities"]) for a in (tier2, tier4, tier13)}
    assert cities == {tier2: 2, tier4: 4, tier13: 13}
    c.sign_in(tier13, tier4, tier2)  # the versatile agent has been idle the longest

    out = c.call("v1", "vip-gotone", "gotone", "nanjing", vip=1)
    out += c.call("v2", "vip-gotone", "gotone", "nanjing", vip=1)
    out += c.call("v3", "vip-gotone", "gotone", "nanjing", vip=1)
    # The fewer cities an agent serves, the sooner it is offered a call it can serve.
    assert offers(out) == [("v1", tier2), ("v2", tier4), ("v3", tier13)]


def test_mode3_versatile_agents_stay_free_for_rare_cities() -> None:
    c = Center("mode3.toml")
    c.sign_in("3031", "3001")
    out = c.call("n1", "vip-gotone", "gotone", "nanjing")
    out += c.call("s1", "vip-gotone", "gotone", "suqian")  # only the senior serves Suqian
    assert offers(out) == [("n1", "3001"), ("s1", "3031")]


def test_mode3_widens_to_strong_general_agents_when_no_premium_agent_is_ready() -> None:
    c = Center("mode3.toml")
    c.sign_in("3001", "4011", "4031")  # premium tier 2; general mass 5 and mass 8
    c.call("g0", "vip-gotone", "gotone", "nanjing")
    c.answer("3001", "g0")  # no premium agent is ready now

    out = c.call("v1", "vip-gotone", "gotone", "nanjing", vip=2, after=1)
    out += c.wait(19)
    assert offers(out) == [] and overflows(out) == []

    out = c.wait(1)  # 20 s in the queue, and still no premium agent ready
    [widen] = overflows(out)
    assert (widen.from_group, widen.to_group, widen.action, widen.rule) == (
        "vip-gotone",
        "general",
        OverflowAction.WIDEN.value,
        "no-premium-agent-ready",
    )
    # Only general agents at level 7 or more take premium callers: not the tier-4 agent.
    assert offers(out) == [("v1", "4031")]


def test_mode3_no_widening_while_a_premium_agent_is_ready() -> None:
    c = Center("mode3.toml")
    c.sign_in("3001", "3021", "4031")  # 3021 is ready but serves other cities
    c.call("g0", "vip-gotone", "gotone", "nanjing")
    c.answer("3001", "g0")

    out = c.call("v1", "vip-gotone", "gotone", "nanjing", vip=2, after=1)
    out += c.wait(60)
    out += c.wait(60)
    # A premium agent is ready and no service level was measured yet: neither rule holds.
    assert offers(out) == [] and overflows(out) == []
    out = c.finish("3001", "g0")
    assert offers(out) == [("v1", "3001")]


def test_mode3_widens_when_the_service_level_is_below_target() -> None:
    c = Center("mode3.toml")
    c.sign_in("3001", "3021", "4031")
    # The first caller is answered after 12 s, past the 10 s target: the interval's service
    # level drops to 0 %.
    c.call("g0", "vip-gotone", "gotone", "nanjing")
    c.send(ev.AcceptOffer("3001", "g0"), after=12)
    c.send(ev.AgentLegAnswered("g0", "3001"))

    out = c.call("v1", "vip-gotone", "gotone", "nanjing", vip=2, after=1)
    out += c.wait(19)
    assert overflows(out) == []
    out = c.wait(1)
    # 3021 is ready (for other cities), so only the service-level rule holds.
    assert [o.rule for o in overflows(out)] == ["premium-service-level-low"]
    assert offers(out) == [("v1", "4031")]


def test_mode3_long_general_queue_widens_to_premium_agents() -> None:
    c = Center("mode3.toml")
    c.sign_in("3001")  # a premium agent (no mass skill), nobody on the general side
    out: list[Output] = []
    for i in range(9):
        out += c.call(f"m{i}", "general", "mzone", "nanjing", after=1)
    out += c.wait(40)
    out += c.wait(40)
    # Nine callers have waited well over 30 s, but the queue is not long enough.
    assert offers(out) == [] and overflows(out) == []

    out = c.call("m9", "general", "mzone", "nanjing", after=1)
    out += c.wait(c.cfg.overflow_check_period)
    widened = overflows(out)
    assert widened
    assert {(o.from_group, o.to_group, o.rule) for o in widened} == {
        ("general", "vip-gotone", "long-general-queue")
    }
    # The callers that waited 30 s are widened (not the newest one), and the premium agent
    # takes the first of them.
    assert "m9" not in {o.call_id for o in widened}
    assert offers(out) == [("m0", "3001")]


def test_mode3_offers_a_callback_on_a_long_estimated_wait() -> None:
    c = Center("mode3.toml")
    aht = c.cfg.groups["general"].expected_aht
    offer_at = c.cfg.groups["general"].callback.offer_when_estimated_wait
    assert offer_at == 120
    c.sign_in("4011", "4012")  # two general agents, both about to be busy
    c.call("m1", "general", "mzone", "nanjing")
    c.call("m2", "general", "easyown", "nanjing")
    c.answer("4011", "m1")
    c.answer("4012", "m2")

    # First in line: (0 + 1) x AHT / 2 agents is under two minutes; no callback offer.
    out = c.call("m3", "general", "mzone", "nanjing", after=1)
    assert aht / 2 < offer_at
    assert not [o for o in out if isinstance(o, ev.OfferCallback)]

    # Second in line: (1 + 1) x AHT / 2 is past two minutes; the caller is offered one.
    out = c.call("m4", "general", "mzone", "nanjing", after=1)
    [offer] = [o for o in out if isinstance(o, ev.OfferCallback)]
    assert offer.call_id == "m4" and offer.estimated_wait >= offer_at

    # The caller accepts: the call becomes a callback task that keeps its place.
    out = c.send(ev.CallbackChosen("m4"))
    [queued] = [o for o in out if isinstance(o, ev.CallbackQueued)]
    assert queued.kind is CallKind.CALLBACK
    out = c.finish("4011", "m1")
    assert offers(out) == [("m3", "4011")]
    out = c.finish("4012", "m2")
    assert offers(out) == [("m4", "4012")]


@pytest.mark.parametrize("name", ["mode3.toml", "center.toml"])
def test_mode3_routing_is_shared_with_the_default_center(name: str) -> None:
    cfg = load_config(CONFIG / name)
    vip, general = cfg.groups["vip-gotone"], cfg.groups["general"]
    assert vip.match == general.match == (("city", "cities"),)
    assert {r.action for r in vip.overflow} == {OverflowAction.WIDEN}
    assert vip.callback.offer_when_estimated_wait == 120
    assert cfg.starvation_bound(vip) is not None
    assert cfg.starvation_bound(general) is not None


def test_default_center_complaints_desk_keeps_office_hours() -> None:
    c = Center("center.toml")
    c.sign_in("3011")  # a senior who also serves the complaints desk
    out = c.call("k1", "complaints", "gotone", "nanjing")
    assert offers(out) == [("k1", "3011")]

    sunday = dt.datetime(2025, 3, 9, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
    out = c.call("k2", "complaints", "mzone", "wuxi", after=sunday - c.t)
    blocked = [o for o in out if isinstance(o, ev.CallBlocked)]
    assert [(b.group, b.reason) for b in blocked] == [("complaints", "closed")]
    assert [o.call_id for o in out if isinstance(o, ev.RecordVoicemail)] == ["k2"]
