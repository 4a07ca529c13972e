"""Erlang B, C, A and staffing, checked against references computed another way.

- Erlang B and C: their textbook definitions in exact rational arithmetic, the standard
  published Erlang B table (1 % blocking), and pyworkforce 0.5.1 (the figures of its own test
  suite, and a grid computed with it, pinned below: it is not a test dependency because it
  pulls in ortools, pandas and numpy).
- Erlang A: the density of the offered wait (Riordan; Mandelbaum & Zeltyn) integrated with
  mpmath at 30 digits, a derivation independent of the module's chain and uniformization; and
  a seeded discrete-event simulation of M/M/c+M.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from fractions import Fraction
from itertools import pairwise
from typing import Any

import mpmath as mp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.erlang import ErlangA, erlang_a, erlang_b, erlang_c, staff

# --- the worked example of domain.md --------------------------------------------------------


@pytest.mark.parametrize(
    ("agents", "p_wait", "sl", "asa", "asa_tol"),
    [(250, 0.41, 0.78, 9.9, 0.05), (260, 0.14, 0.96, 1.65, 0.005)],
)
def test_domain_example(agents: int, p_wait: float, sl: float, asa: float, asa_tol: float) -> None:
    # 3,600 calls/h, AHT 240 s: a = 240 Erlangs; service level within 15 s.
    r = erlang_c(3600 / 3600, 240.0, agents, 15.0)
    assert r.p_wait == pytest.approx(p_wait, abs=0.005)
    assert r.service_level == pytest.approx(sl, abs=0.005)
    assert r.asa_seconds == pytest.approx(asa, abs=asa_tol)
    assert r.occupancy == pytest.approx(240 / agents)
    assert r.stable


# --- Erlang B -------------------------------------------------------------------------------


def exact_b(c: int, a: Fraction) -> Fraction:
    """(a^c / c!) / sum_k a^k / k!, term by term."""
    terms = [a**k / math.factorial(k) for k in range(c + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize(
    ("c", "a"),
    [(1, Fraction(1, 2)), (5, Fraction(3)), (10, Fraction(19, 2)), (30, Fraction(25)),
     (100, Fraction(80)), (120, Fraction(150)), (60, Fraction(1, 10))],
)  # fmt: skip
def test_erlang_b_matches_the_definition(c: int, a: Fraction) -> None:
    assert erlang_b(c, float(a)) == pytest.approx(float(exact_b(c, a)), rel=1e-12)


# Offered load giving 1 % blocking, as printed in the usual Erlang B tables.
B_TABLE_1_PERCENT = [
    (1, "0.0101"), (2, "0.153"), (3, "0.455"), (4, "0.869"), (5, "1.361"), (10, "4.461"),
    (20, "12.031"), (30, "20.337"), (40, "29.007"), (50, "37.901"), (100, "84.064"),
]  # fmt: skip


@pytest.mark.parametrize(("c", "load"), B_TABLE_1_PERCENT)
def test_erlang_b_matches_the_published_table(c: int, load: str) -> None:
    half_unit = 0.5 * 10 ** -len(load.split(".")[1])  # the table's rounding
    a = float(load)
    assert erlang_b(c, a - half_unit) <= 0.01 <= erlang_b(c, a + half_unit)


def test_erlang_b_edges_and_large_groups() -> None:
    assert erlang_b(0, 7.0) == 1.0
    assert erlang_b(5, 0.0) == 0.0
    b = erlang_b(5000, 4900.0)  # a^c/c! would overflow a float many times over
    assert 0.0 < b < 0.05
    assert erlang_b(5000, 4900.0) > erlang_b(5001, 4900.0)
    with pytest.raises(ValueError):
        erlang_b(-1, 1.0)
    with pytest.raises(ValueError):
        erlang_b(3, -1.0)


# --- Erlang C -------------------------------------------------------------------------------


def exact_c(c: int, a: Fraction) -> Fraction:
    """P(wait) of M/M/c from the stationary distribution, in rationals."""
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(
    ("c", "a"),
    [(1, Fraction(1, 2)), (11, Fraction(10)), (14, Fraction(10)), (55, Fraction(48)),
     (250, Fraction(240)), (241, Fraction(240))],
)  # fmt: skip
def test_erlang_c_matches_the_definition(c: int, a: Fraction) -> None:
    aht = 180.0
    r = erlang_c(float(a) / aht, aht, c, 20.0)
    p = float(exact_c(c, a))
    assert r.p_wait == pytest.approx(p, rel=1e-10)
    gap = (c - float(a)) / aht
    assert r.service_level == pytest.approx(1 - p * math.exp(-gap * 20.0), rel=1e-10)
    assert r.asa_seconds == pytest.approx(p / gap, rel=1e-10)


# pyworkforce 0.5.1: ErlangC(transactions, interval=min, aht=min, asa=min).waiting_probability(n)
# and .service_level(n), where its `asa` is the service level target time.
PYWORKFORCE_GRID = [
    (100, 30, 3, 20 / 60, 11, 0.6821182046893323, 0.38961381172915344),
    (100, 30, 3, 20 / 60, 14, 0.1741319335950498, 0.8883500191794669),
    (100, 30, 3, 20 / 60, 20, 0.00373112604412672, 0.998771739469646),
    (360, 30, 4, 15 / 60, 50, 0.6944556111968345, 0.3871450741363014),
    (360, 30, 4, 15 / 60, 55, 0.23870093637800924, 0.8458830921705803),
    (360, 30, 4, 15 / 60, 60, 0.06339196529509812, 0.9700557558820765),
    (3600, 60, 4, 15 / 60, 245, 0.6573281833427135, 0.5190884277193673),
    (3600, 60, 4, 15 / 60, 250, 0.41213937708982923, 0.7793976882699711),
    (3600, 60, 4, 15 / 60, 260, 0.1376820109288934, 0.9605534434275149),
    (25, 15, 5.5, 30 / 60, 10, 0.7190350163632794, 0.3334251194259378),
    (2000, 30, 7, 60 / 60, 480, 0.42795805379733404, 0.9362949854473991),
]


@pytest.mark.parametrize(
    ("calls", "interval_min", "aht_min", "target_min", "agents", "p_wait", "sl"),
    PYWORKFORCE_GRID,
)
def test_erlang_c_matches_pyworkforce(
    calls: int,
    interval_min: int,
    aht_min: float,
    target_min: float,
    agents: int,
    p_wait: float,
    sl: float,
) -> None:
    r = erlang_c(calls / (interval_min * 60), aht_min * 60, agents, target_min * 60)
    assert r.p_wait == pytest.approx(p_wait, rel=1e-9)
    assert r.service_level == pytest.approx(sl, rel=1e-9)


@pytest.mark.parametrize("agents", [0, 239, 240])
def test_erlang_c_unstable_load(agents: int) -> None:
    r = erlang_c(1.0, 240.0, agents, 20.0)
    assert (r.p_wait, r.service_level, r.asa_seconds, r.occupancy) == (1.0, 0.0, math.inf, 1.0)
    assert not r.stable


def test_erlang_c_without_calls() -> None:
    r = erlang_c(0.0, 240.0, 3, 20.0)
    assert (r.p_wait, r.service_level, r.asa_seconds, r.occupancy) == (0.0, 1.0, 0.0, 0.0)


# --- Erlang A: reference by the offered-wait density ----------------------------------------


def density_reference(
    rate: float, aht: float, c: int, t: float, patience: float
) -> dict[str, float]:
    """Erlang A figures from the density of the offered wait V (the wait a caller would have
    with infinite patience) over arrivals that queue:
        f(s) = π_c · cμ · exp(λ/θ · (1 - e^{-θs}) - cμ·s),  s > 0,
    where π_c = P(c in system). A caller with patience τ ~ Exp(θ) is answered iff τ > V."""
    with mp.workdps(30):
        lam, mu, theta, tt = mp.mpf(rate), 1 / mp.mpf(aht), 1 / mp.mpf(patience), mp.mpf(t)
        a, cmu = lam / mu, c * mu

        def g(s: mp.mpf) -> mp.mpf:
            return cmu * mp.exp(lam / theta * (1 - mp.exp(-theta * s)) - cmu * s)

        marks = [mp.mpf(0), tt]
        if lam > cmu:  # the density peaks where λ·e^{-θs} = cμ
            marks.append(mp.log(lam / cmu) / theta)

        def integral(fn: object, lo: mp.mpf = 0, hi: mp.mpf = mp.inf) -> mp.mpf:
            inner = sorted({m for m in marks if lo < m < hi})
            return mp.quad(fn, [lo, *inner, hi])

        below = mp.fsum(mp.factorial(c) / (mp.factorial(n) * a ** (c - n)) for n in range(c))
        queued = integral(g)  # P(wait) / π_c
        pi_c = 1 / (below + queued)

        def f(s: mp.mpf) -> mp.mpf:
            return pi_c * g(s)

        p_wait = pi_c * queued
        p_ab = integral(lambda s: f(s) * (1 - mp.exp(-theta * s)))
        answered_in_t = integral(lambda s: f(s) * mp.exp(-theta * s), hi=tt) if t > 0 else 0
        wait_answered = integral(lambda s: s * f(s) * mp.exp(-theta * s))
        # E[τ · 1{τ < s}] for τ ~ Exp(θ)
        wait_ab = integral(lambda s: f(s) * (1 - mp.exp(-theta * s) * (1 + theta * s)) / theta)
        ab_in_t = integral(lambda s: f(s) * (1 - mp.exp(-theta * min(s, tt))))
        return {
            "p_wait": float(p_wait),
            "service_level": float(1 - p_wait + answered_in_t),
            "abandon_rate": float(p_ab),
            "asa_seconds": float(wait_answered / (1 - p_ab)),
            "occupancy": float(a * (1 - p_ab) / c),
            "mean_wait_abandoned_seconds": float(wait_ab / p_ab),
            "abandoned_within_sl": float(ab_in_t),
        }


ERLANG_A_CASES = [
    # rate/s, AHT s, agents, T s, patience s
    pytest.param(1.0, 240.0, 250, 20.0, 60.0, id="250 agents, 240 Erlangs"),
    pytest.param(0.09, 100.0, 10, 20.0, 50.0, id="small group"),
    pytest.param(1.0, 240.0, 200, 30.0, 120.0, id="overloaded 240 on 200"),
    pytest.param(0.05, 100.0, 3, 15.0, 20.0, id="overloaded 5 on 3"),
    pytest.param(0.75, 20.0, 20, 20.0, 2.0, id="patience well under T"),
    pytest.param(6.25, 240.0, 1000, 20.0, 60.0, id="1500 Erlangs on 1000"),
    pytest.param(0.09, 100.0, 10, 0.0, 50.0, id="T = 0"),
]


@pytest.mark.parametrize(("rate", "aht", "c", "t", "patience"), ERLANG_A_CASES)
def test_erlang_a_matches_the_offered_wait_density(
    rate: float, aht: float, c: int, t: float, patience: float
) -> None:
    r = erlang_a(rate, aht, c, t, patience)
    ref = density_reference(rate, aht, c, t, patience)
    for name in ("p_wait", "service_level", "abandon_rate", "occupancy", "abandoned_within_sl"):
        assert getattr(r, name) == pytest.approx(ref[name], abs=1e-10), name
    for name in ("asa_seconds", "mean_wait_abandoned_seconds"):
        assert getattr(r, name) == pytest.approx(ref[name], rel=1e-9), name


# --- Erlang A: reference by simulation ------------------------------------------------------


def simulate(
    rate: float, aht: float, c: int, t: float, patience: float, calls: int, seed: int
) -> dict[str, tuple[float, float]]:
    """A seeded M/M/c+M simulation, FCFS. Returns each figure as (mean, standard error) over
    20 batches, after a warm-up batch. Each caller, in arrival order, takes the agent that
    frees first unless its patience runs out before then (a caller who hangs up takes no
    agent and delays nobody, so arrival order is enough: no event list needed)."""
    rng = random.Random(seed)
    free = [0.0] * c  # heap of the times agents next become free
    now = 0.0
    batches = 20
    per = calls // batches
    rows: list[tuple[float, float, float, float]] = []
    for batch in range(batches + 1):
        waited = within = abandoned = answered = 0
        wait_answered = 0.0
        for _ in range(per):
            now += rng.expovariate(rate)
            start = max(now, free[0])
            wait = start - now
            waited += wait > 0.0
            if rng.expovariate(1.0 / patience) < wait:
                abandoned += 1
                continue
            answered += 1
            wait_answered += wait
            within += wait <= t
            heapq.heapreplace(free, start + rng.expovariate(1.0 / aht))
        if batch:
            rows.append((waited / per, within / per, abandoned / per, wait_answered / answered))
    names = ("p_wait", "service_level", "abandon_rate", "asa_seconds")
    return {
        name: (statistics.fmean(col), statistics.stdev(col) / math.sqrt(batches))
        for name, col in zip(names, zip(*rows, strict=True), strict=True)
    }


@pytest.mark.parametrize(
    ("rate", "aht", "c", "t", "patience"),
    [
        pytest.param(0.09, 100.0, 10, 20.0, 50.0, id="9 Erlangs on 10"),
        pytest.param(0.1, 100.0, 8, 20.0, 60.0, id="overloaded 10 on 8"),
        pytest.param(0.04, 100.0, 5, 15.0, 100.0, id="4 Erlangs on 5"),
    ],
)
def test_erlang_a_matches_a_simulation(
    rate: float, aht: float, c: int, t: float, patience: float
) -> None:
    r = erlang_a(rate, aht, c, t, patience)
    sim = simulate(rate, aht, c, t, patience, calls=1_000_000, seed=20240611)
    for name in ("p_wait", "service_level", "abandon_rate"):
        mean, se = sim[name]
        assert abs(mean - getattr(r, name)) < 0.005, (name, mean, se)
        assert abs(mean - getattr(r, name)) < 4 * se + 1e-4, (name, mean, se)
    mean, se = sim["asa_seconds"]
    assert mean == pytest.approx(r.asa_seconds, rel=0.05, abs=4 * se)


# --- Erlang A: properties -------------------------------------------------------------------


@pytest.mark.parametrize("agents", [245, 250, 260])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(agents: int) -> None:
    c = erlang_c(1.0, 240.0, agents, 15.0)
    gaps = []
    for patience in (1e4, 1e5, 1e6, 1e7):
        a = erlang_a(1.0, 240.0, agents, 15.0, patience)
        gaps.append(abs(a.service_level - c.service_level) + abs(a.p_wait - c.p_wait))
        assert a.abandon_rate < 240.0 / patience
    # The gap shrinks in proportion to θ = 1/patience.
    assert all(5 * later < earlier for earlier, later in pairwise(gaps))
    assert gaps[-1] < 1e-3
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-3)


@pytest.mark.parametrize(("rate", "aht", "patience"), [(1.0, 240.0, 60.0), (0.1, 180.0, 20.0)])
def test_erlang_a_abandons_more_and_answers_less_with_fewer_agents(
    rate: float, aht: float, patience: float
) -> None:
    load = rate * aht
    results = [erlang_a(rate, aht, c, 20.0, patience) for c in range(1, int(1.5 * load))]
    for fewer, more in pairwise(results):
        assert fewer.abandon_rate > more.abandon_rate
        # Far overloaded the service level is ~1e-20: compare down to the method's 1e-15.
        assert fewer.service_level < more.service_level + 1e-15
        assert fewer.p_wait > more.p_wait - 1e-15  # both 1 when far overloaded


def check_consistent(r: ErlangA, rate: float, aht: float, patience: float) -> None:
    assert 0.0 <= r.abandoned_within_sl <= r.abandon_rate <= r.p_wait <= 1.0
    assert 0.0 <= r.service_level <= 1.0 - r.abandon_rate + 1e-12
    assert 1.0 - r.p_wait <= r.service_level + 1e-12  # callers answered at once are within T
    assert 0.0 <= r.occupancy <= 1.0 + 1e-12
    assert 0.0 <= r.service_level_excluding_short_abandons <= 1.0
    # Flow balance and Little: P(ab) = θ · E[wait over all calls].
    mean_wait = r.asa_seconds * (1 - r.abandon_rate)
    mean_wait += r.mean_wait_abandoned_seconds * r.abandon_rate
    assert r.abandon_rate == pytest.approx(mean_wait / patience, rel=1e-9, abs=1e-15)
    assert r.occupancy == pytest.approx(rate * aht * (1 - r.abandon_rate) / r.agents)


@settings(max_examples=150, deadline=None)
@given(
    agents=st.integers(1, 400),
    load_per_agent=st.floats(0.05, 1.5),
    aht=st.floats(10.0, 900.0),
    patience=st.floats(1.0, 3600.0),
    t=st.floats(0.0, 120.0),
)
def test_erlang_a_figures_are_consistent(
    agents: int, load_per_agent: float, aht: float, patience: float, t: float
) -> None:
    rate = agents * load_per_agent / aht
    check_consistent(erlang_a(rate, aht, agents, t, patience), rate, aht, patience)


def test_erlang_a_edges() -> None:
    idle = erlang_a(0.0, 240.0, 3, 20.0, 60.0)
    assert (idle.p_wait, idle.service_level, idle.abandon_rate, idle.occupancy) == (0, 1, 0, 0)
    with pytest.raises(ValueError):
        erlang_a(1.0, 240.0, 0, 20.0, 60.0)
    with pytest.raises(ValueError):
        erlang_a(1.0, 240.0, 10, 20.0, 0.0)
    with pytest.raises(ValueError):
        erlang_a(1.0, 240.0, 10, -1.0, 60.0)
    with pytest.raises(ValueError):
        erlang_a(math.nan, 240.0, 10, 20.0, 60.0)


def test_service_level_excluding_short_abandons() -> None:
    r = erlang_a(0.75, 20.0, 14, 20.0, 2.0)
    assert r.abandoned_within_sl > 0.05
    expected = r.service_level / (1 - r.abandoned_within_sl)
    assert r.service_level_excluding_short_abandons == pytest.approx(expected)


# --- staffing -------------------------------------------------------------------------------


def test_staffing_matches_pyworkforce_published_figures() -> None:
    # pyworkforce's own tests: 100 calls / 30 min, AHT 3 min, 80 % within 0.33 min,
    # shrinkage 0.3, occupancy cap 0.85 then 0.7.
    s = staff(100, 1800, 180, 0.8, 0.33 * 60, max_occupancy=0.85, shrinkage=0.3)
    assert s.erlang_c.agents == 14
    assert s.erlang_c_scheduled == 20
    assert round(s.erlang_c.service_level, 3) == 0.888
    assert round(s.erlang_c.occupancy, 3) == 0.714
    assert round(s.erlang_c.p_wait, 3) == 0.174
    s = staff(100, 1800, 180, 0.8, 0.33 * 60, max_occupancy=0.7, shrinkage=0.3)
    assert s.erlang_c.agents == 15
    assert s.erlang_c_scheduled == 22
    assert round(s.erlang_c.service_level, 3) == 0.941
    assert round(s.erlang_c.occupancy, 3) == 0.667
    assert round(s.erlang_c.p_wait, 3) == 0.102


STAFFING_CASES = [
    # calls, interval s, AHT s, target, T s, patience s, occupancy cap
    (100, 1800, 180, 0.8, 20, 60.0, None),
    (100, 1800, 180, 0.95, 180, 2.0, None),  # Erlang A needs more than Erlang C here
    (3600, 3600, 240, 0.8, 15, 60.0, None),
    (3600, 3600, 240, 0.8, 20, 5.0, None),  # ... and far fewer here
    (3600, 3600, 240, 0.8, 15, 120.0, 0.85),
    (40, 900, 300, 0.9, 30, 90.0, 0.8),
    (7, 1800, 600, 0.8, 20, 30.0, None),
    (500, 1800, 240, 0.0, 20, 60.0, 0.9),
]


@pytest.mark.parametrize(
    ("calls", "interval", "aht", "target", "t", "patience", "cap"), STAFFING_CASES
)
def test_staffing_is_minimal(
    calls: float,
    interval: float,
    aht: float,
    target: float,
    t: float,
    patience: float,
    cap: float | None,
) -> None:
    s = staff(calls, interval, aht, target, t, patience_s=patience, max_occupancy=cap)
    rate = calls / interval
    assert s.offered_load == pytest.approx(rate * aht)

    def c_ok(n: int) -> bool:
        r = erlang_c(rate, aht, n, t)
        return r.stable and r.service_level >= target and (cap is None or r.occupancy <= cap)

    def a_ok(n: int) -> bool:
        r = erlang_a(rate, aht, n, t, patience)
        return r.service_level >= target and (cap is None or r.occupancy <= cap)

    assert s.erlang_c == erlang_c(rate, aht, s.erlang_c.agents, t)
    assert c_ok(s.erlang_c.agents)
    assert not any(c_ok(n) for n in range(s.erlang_c.agents))
    assert s.erlang_a is not None
    assert s.erlang_a == erlang_a(rate, aht, s.erlang_a.agents, t, patience)
    assert a_ok(s.erlang_a.agents)
    assert not any(a_ok(n) for n in range(1, s.erlang_a.agents))


def test_staffing_where_the_occupancy_cap_binds() -> None:
    free = staff(3600, 3600, 240, 0.8, 15, patience_s=120.0)
    capped = staff(3600, 3600, 240, 0.8, 15, patience_s=120.0, max_occupancy=0.85)
    assert free.erlang_c.occupancy > 0.85
    assert capped.erlang_c.agents == math.ceil(240 / 0.85) == 283
    assert capped.erlang_c.occupancy <= 0.85 < 240 / 282
    assert capped.erlang_a is not None and free.erlang_a is not None
    assert capped.erlang_a.occupancy <= 0.85 < free.erlang_a.occupancy


@pytest.mark.parametrize(
    ("calls", "shrinkage", "scheduled"),
    [(0.0, 0.3, 0), (100, 0.0, 14), (100, 0.3, 20), (100, 0.35, 22), (100, 0.5, 28)],
)
def test_scheduled_headcount_after_shrinkage(
    calls: float, shrinkage: float, scheduled: int
) -> None:
    s = staff(calls, 1800, 180, 0.8, 20, shrinkage=shrinkage)
    assert s.erlang_c_scheduled == scheduled
    assert s.erlang_c_scheduled == math.ceil(round(s.erlang_c.agents / (1 - shrinkage), 9))


def test_scheduled_headcount_is_not_pushed_up_by_float_noise() -> None:
    # 21 / (1 - 0.3) is 30.000000000000004 in floating point; the headcount is 30.
    assert 21 / (1 - 0.3) > 30
    s = staff(165, 1800, 180, 0.8, 20, patience_s=600.0, shrinkage=0.3)
    assert s.erlang_c.agents == 21
    assert s.erlang_c_scheduled == 30
    assert s.erlang_a is not None
    assert s.erlang_a_scheduled == math.ceil(round(s.erlang_a.agents / 0.7, 9))


def test_staffing_json_shape() -> None:
    s = staff(100, 1800, 180, 0.8, 20, patience_s=60.0, shrinkage=0.3)
    doc = s.to_json()
    assert set(doc) == {"erlang_c", "erlang_a"}
    c, a = doc["erlang_c"], doc["erlang_a"]
    assert c is not None and a is not None
    assert set(c) == {"agents", "service_level", "asa_seconds", "occupancy", "p_wait"}
    assert set(a) == set(c) | {"abandon_rate"}
    assert c["agents"] == s.erlang_c.agents and isinstance(c["agents"], int)
    assert s.erlang_a is not None
    assert a["abandon_rate"] == s.erlang_a.abandon_rate
    assert staff(100, 1800, 180, 0.8, 20).to_json()["erlang_a"] is None


def test_staffing_without_calls() -> None:
    s = staff(0, 1800, 180, 0.8, 20, patience_s=60.0)
    assert s.erlang_c.agents == 0
    assert s.erlang_c.service_level == 1.0
    assert s.erlang_a is not None and s.erlang_a.agents == 1


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sl_target": 1.0},
        {"sl_target": -0.1},
        {"interval_s": 0},
        {"aht_s": 0},
        {"calls": -1},
        {"sl_seconds": -1},
        {"patience_s": 0.0},
        {"max_occupancy": 0.0},
        {"max_occupancy": 1.2},
        {"shrinkage": 1.0},
        {"shrinkage": -0.1},
    ],
)
def test_staffing_rejects_bad_input(kwargs: dict[str, float]) -> None:
    args: dict[str, Any] = {
        "calls": 100,
        "interval_s": 1800,
        "aht_s": 180,
        "sl_target": 0.8,
        "sl_seconds": 20,
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        staff(**args)


@pytest.mark.parametrize("t", [0.0, 5e-324, 1e-300])
def test_erlang_a_threshold_below_float_resolution(t: float) -> None:
    # answered "within" a vanishing threshold: only the callers who never wait
    a = erlang_a(0.03, 100.0, 5, t, 30.0)
    assert a.service_level == pytest.approx(1 - a.p_wait)
    assert a.abandoned_within_sl == pytest.approx(0.0, abs=1e-12)
