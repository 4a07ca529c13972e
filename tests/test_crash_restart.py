"""SIGKILL under live load, restart on the same folder: calls, tasks, records and the
interval's figures come back (loadtest/crash_restart.py prints the figures)."""

from __future__ import annotations

from pathlib import Path

from loadtest.crash_restart import run


def test_kill_and_restart_keeps_calls_tasks_and_records(tmp_path: Path) -> None:
    res = run(tmp_path, rounds=2, agents=6, rate=8.0, seed=1)
    assert len(res.rounds) == 2
    held = sum(r.held for r in res.rounds)
    assert held > 0  # the switch held calls at every kill worth checking
    for r in res.rounds:
        assert r.lost == [] and r.wrong_place == []
        assert r.queued_ok + r.connected_ok + r.ended_before == r.held
        assert r.tasks_lost == []
        assert r.violations == []
        assert r.interval_answered > 0  # rebuilt from the journal before any new answer
    assert sum(r.tasks_owed for r in res.rounds) > 0
    assert res.told_ended > 0 and res.records_missing == []
    assert res.integrity == "ok"
