"""The engine against queueing theory: one FIFO group, Poisson arrivals, exponential talk.

Each case runs at least 200,000 calls through the real engine on a simulated clock. The cases
are chosen where the sampling noise of a 200k-call run is well inside the tolerance (heavily
loaded large groups need millions of calls for a stable mean wait: see docs/routing.md).
"""

from __future__ import annotations

import pytest

from acd.erlang import erlang_a, erlang_c
from acd.sim import Scenario, simulate

ERLANG_C = [
    # agents, calls/s, AHT s, SL threshold s, calls
    (3, 0.01, 200.0, 20.0, 200_000),  # a = 2, P(wait) 0.44
    (10, 0.04, 200.0, 20.0, 200_000),  # a = 8, P(wait) 0.41
    (8, 0.03, 200.0, 20.0, 300_000),  # a = 6, P(wait) 0.36
]


@pytest.mark.parametrize(("agents", "rate", "aht", "threshold", "calls"), ERLANG_C)
def test_service_level_and_asa_agree_with_erlang_c(
    agents: int, rate: float, aht: float, threshold: float, calls: int
) -> None:
    sc = Scenario(
        agents=agents,
        rate=rate,
        aht=aht,
        sl_threshold=threshold,
        duration=calls / rate,
        warmup=50 * aht,
        seed=1,
    )
    r = simulate(sc)
    theory = erlang_c(rate, aht, agents, threshold)
    assert r.offered >= calls * 0.97
    assert r.abandoned == 0 and r.answered == r.offered
    assert abs(r.service_level - theory.service_level) <= 0.015, (r.service_level, theory)
    assert abs(r.asa / theory.asa_seconds - 1) <= 0.05, (r.asa, theory)
    assert abs(r.occupancy - theory.occupancy) <= 0.01


ERLANG_A = [
    # agents, calls/s, AHT s, patience s, calls
    (230, 1.0, 240.0, 120.0, 200_000),  # overloaded: a = 240 > 230
    (20, 0.1, 200.0, 60.0, 200_000),  # a = 20 = c
]


@pytest.mark.parametrize(("agents", "rate", "aht", "patience", "calls"), ERLANG_A)
def test_abandonment_agrees_with_erlang_a(
    agents: int, rate: float, aht: float, patience: float, calls: int
) -> None:
    sc = Scenario(
        agents=agents,
        rate=rate,
        aht=aht,
        patience=patience,
        sl_threshold=20.0,
        duration=calls / rate,
        warmup=20 * aht,
        seed=1,
    )
    r = simulate(sc)
    theory = erlang_a(rate, aht, agents, 20.0, patience)
    assert r.offered >= calls * 0.97
    assert abs(r.abandon_rate - theory.abandon_rate) <= 0.01, (r.abandon_rate, theory)
    # answered within 20 s / offered: the convention both sides use here
    assert abs(r.service_level - theory.service_level) <= 0.015, (r.service_level, theory)
