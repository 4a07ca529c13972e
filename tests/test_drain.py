"""Graceful drain of a real server process under load (SIGTERM and `acd drain`)."""

from __future__ import annotations

from pathlib import Path

from loadtest.drain_check import run


def test_drain_serves_every_call_then_exits_0(tmp_path: Path) -> None:
    r = run(tmp_path, agents=8, rate=12.0, seconds=1.5, aht=0.8, via_cli=True)
    assert r.in_hand_at_signal > 0  # calls were waiting or talking when the drain began
    assert r.refused.get("draining", 0) > 0  # arrivals after the signal: typed refusal
    assert r.center == "draining"  # the switch was told
    assert r.exit_code == 0
    assert not r.pid_file_left  # a later `acd drain` cannot signal a reused pid
    assert r.held_at_exit == 0
    assert set(r.ended) == {"completed"}  # every accepted call served to the end
    assert r.signed_out == r.agents == 8
    assert r.records_missing == [] and r.integrity == "ok"


def test_drain_timeout_hands_calls_back_with_a_reason(tmp_path: Path) -> None:
    r = run(tmp_path, agents=3, rate=8.0, seconds=1.0, aht=60.0, drain_timeout=0.5)
    assert r.exit_code == 0
    back = r.ended.get("handback", 0)
    assert back > 0 and r.held_at_exit == 0
    assert back == r.handback_notes == r.lost_records  # each one recorded, with its reason
    assert r.signed_out == r.agents
    assert r.records_missing == []
