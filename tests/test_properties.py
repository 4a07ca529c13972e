"""Property tests: invariants over random event sequences, priority order, starvation bound."""

from __future__ import annotations

from core_harness import Core, agent, center, group
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acd import events as ev
from loadtest.chaos import Intent, random_intents, run_checked

intents = st.lists(
    st.tuples(
        st.integers(0, 67),
        st.integers(0, 999),
        st.integers(0, 999),
        st.sampled_from((0.0, 0.5, 2.0, 7.0)),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(intents)
def test_invariants_hold_over_random_sequences(items: list[Intent]) -> None:
    run_checked(items)


def test_invariants_hold_over_seeded_sequences() -> None:
    offered = 0
    for seed in range(120):
        chaos = run_checked(random_intents(seed, 150), seed)
        offered += sum(isinstance(o, ev.CallOffered) for o in chaos.outputs)
    assert offered > 500  # the sequences really exercise the engine


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(("vip", "gotone", "mzone", "easyown")), st.floats(0, 30)),
        min_size=1,
        max_size=25,
    ),
    st.lists(st.floats(1, 60), min_size=1, max_size=25),
)
def test_priority_order_and_starvation_bound(
    arrivals: list[tuple[str, float]], services: list[float]
) -> None:
    """One agent serving one group: each pick is the best effective priority at that moment,
    and no call is overtaken by one that arrived more than the bound after it."""
    rate, cap = 2.0, 300.0  # spread 200 - 0 = 200 <= cap: bound = cap / rate = 150 s
    cfg = center([group("g", ageing_rate=rate, ageing_cap=cap)], [agent("a", {"g": 5})])
    bound = cfg.starvation_bound(cfg.groups["g"])
    assert bound == 150.0
    core = Core(cfg)
    core(ev.AgentLogin("a"))
    t = 0.0
    base = {}
    for i, (brand, gap) in enumerate(arrivals):
        t += gap
        core.at(t).call(f"c{i}", "g", brand=brand)
        base[f"c{i}"] = core.engine.calls[f"c{i}"].base
    arrived = {c: core.engine.calls[c].queued_at for c in base}
    served: list[tuple[str, float]] = []
    core(ev.AgentReady("a"))
    k = 0
    while core.engine.calls:
        offer = core.engine.agents["a"].offer
        assert offer is not None
        now = core.t
        waiting = [c for c in core.engine.calls.values() if c.phase.value == "queued"]
        eff = min(cap, offer.base + rate * (now - offer.queued_at))
        for other in waiting:
            other_eff = min(cap, other.base + rate * (now - other.queued_at))
            if abs(other_eff - eff) <= 1e-6:
                assert other.queued_at >= offer.queued_at, (other.id, offer.id)
            else:
                assert other_eff < eff, (other.id, offer.id)
        served.append((offer.id, now))
        core.answer("a", offer.id)
        core(ev.AgentLegEnded(offer.id, "a"), services[k % len(services)])
        core(ev.FinishWrapUp("a"))
        k += 1
    order = [c for c, _ in served]
    for i, ci in enumerate(order):
        for cj in order[:i]:
            # cj was served before ci: it cannot have arrived more than the bound after ci
            assert arrived[cj] - arrived[ci] <= bound + 1e-9, (ci, cj)


def test_seeds_the_long_chaos_run_found_stay_fixed() -> None:
    # python -m loadtest.chaos found these: a cooldown after a reject outliving a sign-out
    # (1995), a call taken from a named agent to a callback left unmatched (4378), an offer
    # judged by the skills a reload or skill change in the same step brought (16604, 22548,
    # 36985), and two more
    for seed in (1995, 4378, 14770, 16604, 18896, 22548, 36985):
        run_checked(random_intents(seed, 150), seed)
