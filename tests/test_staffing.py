"""`acd staffing` against the Erlang C table of domain.md and Erlang A's own figures."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from acd.cli import main
from acd.erlang import erlang_a


def staffing(*argv: str) -> dict:  # type: ignore[type-arg]
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert main(["staffing", *argv, "--json"]) == 0
    return json.loads(buf.getvalue())  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("target", "agents", "p_wait", "sl", "asa"),
    [(0.77, 250, 0.41, 0.78, 9.9), (0.955, 260, 0.14, 0.96, 1.65)],
)
def test_erlang_c_matches_the_domain_table(
    target: float, agents: int, p_wait: float, sl: float, asa: float
) -> None:
    # 3,600 calls/h, AHT 240 s: 250 agents give P(wait) 0.41, SL(15 s) 0.78, ASA 9.9 s;
    # 260 give 0.14, 0.96, 1.65 s.
    doc = staffing("--calls", "3600", "--interval-minutes", "60", "--aht", "240",
                   "--sl-target", str(target), "--sl-seconds", "15")  # fmt: skip
    c = doc["erlang_c"]
    assert c["agents"] == agents
    assert c["p_wait"] == pytest.approx(p_wait, abs=0.006)
    assert c["service_level"] == pytest.approx(sl, abs=0.006)
    assert c["asa_seconds"] == pytest.approx(asa, abs=0.06)
    assert c["occupancy"] == pytest.approx(240 / agents)
    assert doc["erlang_a"] is None


def test_erlang_a_with_patience_and_shrinkage() -> None:
    doc = staffing("--calls", "1800", "--interval-minutes", "30", "--aht", "240",
                   "--sl-target", "0.8", "--sl-seconds", "20", "--patience", "120",
                   "--shrinkage", "0.3")  # fmt: skip
    a = doc["erlang_a"]
    ref = erlang_a(1.0, 240.0, a["agents"], 20.0, 120.0)
    below = erlang_a(1.0, 240.0, a["agents"] - 1, 20.0, 120.0)
    assert ref.service_level >= 0.8 > below.service_level  # the fewest agents that do
    assert a["abandon_rate"] == pytest.approx(ref.abandon_rate)
    assert a["agents"] < doc["erlang_c"]["agents"]  # callers who hang up free the queue
    assert doc["erlang_c"]["scheduled"] == -(-doc["erlang_c"]["agents"] * 10 // 7)
