"""The engine against queueing theory, through `acd-loadtest --mode sim --json`.

One FIFO group, Poisson arrivals, exponential talk; each case runs at least 200,000 calls
through the real engine on a simulated clock. Cases are chosen where the sampling noise of a
200k-call run is well inside the tolerance. Measured across seeds (standard deviation of the
ASA error): M/M/1 at 50% load 0.7%, M/M/2 at 50% 1.3%; busier or larger groups are noisier
(4 agents at 50%: 3%, 10 agents at 70%: 2.5%) and would need millions of calls for the same
certainty, so they are covered by the Erlang A cases (abandonment is far less noisy) and by
tests/test_erlang.py's own checks.
"""

from __future__ import annotations

import json

import pytest

from loadtest.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: object) -> dict[str, object]:
    """One `acd-loadtest --mode sim --json` run; its JSON object."""
    assert main(["--mode", "sim", "--json", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


ERLANG_C = [
    # agents, calls/s, AHT s, SL threshold s, calls
    (1, 0.0015, 200.0, 20.0, 200_000),  # load 30%, P(wait) 0.30
    (1, 0.0025, 200.0, 20.0, 200_000),  # load 50%, P(wait) 0.50
    (2, 0.005, 200.0, 20.0, 200_000),  # load 50%, P(wait) 0.33
]


@pytest.mark.parametrize(("agents", "rate", "aht", "threshold", "calls"), ERLANG_C)
def test_service_level_and_asa_agree_with_erlang_c(
    capsys: pytest.CaptureFixture[str],
    agents: int,
    rate: float,
    aht: float,
    threshold: float,
    calls: int,
) -> None:
    r = run(capsys, "--agents", agents, "--rate", rate, "--aht", aht, "--sl-threshold",
            threshold, "--duration", calls / rate, "--warmup", 50 * aht, "--seed", 1)  # fmt: skip
    theory = r["erlang_c"]
    assert isinstance(theory, dict) and set(theory) == {"service_level", "asa_seconds", "p_wait"}
    assert "erlang_a" not in r
    offered, answered = r["offered"], r["answered"]
    assert isinstance(offered, int) and offered >= calls * 0.97
    assert r["abandoned"] == 0 and answered == offered
    sl, asa = r["service_level"], r["asa_seconds"]
    assert isinstance(sl, float) and isinstance(asa, float)
    assert abs(sl - theory["service_level"]) <= 0.015, (sl, theory)
    assert abs(asa / theory["asa_seconds"] - 1) <= 0.05, (asa, theory)


ERLANG_A = [
    # agents, calls/s, AHT s, patience s, calls
    (230, 1.0, 240.0, 120.0, 200_000),  # overloaded: a = 240 > 230
    (20, 0.1, 200.0, 60.0, 200_000),  # a = 20 = c
]


@pytest.mark.parametrize(("agents", "rate", "aht", "patience", "calls"), ERLANG_A)
def test_abandonment_agrees_with_erlang_a(
    capsys: pytest.CaptureFixture[str],
    agents: int,
    rate: float,
    aht: float,
    patience: float,
    calls: int,
) -> None:
    r = run(capsys, "--agents", agents, "--rate", rate, "--aht", aht, "--patience", patience,
            "--sl-threshold", 20, "--duration", calls / rate, "--warmup", 20 * aht,
            "--seed", 1)  # fmt: skip
    theory = r["erlang_a"]
    assert isinstance(theory, dict)
    assert set(theory) == {"service_level", "abandon_rate", "asa_seconds"}
    offered = r["offered"]
    assert isinstance(offered, int) and offered >= calls * 0.97
    rate_, sl = r["abandon_rate"], r["service_level"]
    assert isinstance(rate_, float) and isinstance(sl, float)
    assert abs(rate_ - theory["abandon_rate"]) <= 0.01, (rate_, theory)
    # answered within 20 s / offered: the convention both sides use here
    assert abs(sl - theory["service_level"]) <= 0.015, (sl, theory)
