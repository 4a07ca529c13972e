"""kill -9 during load: every call whose end was acknowledged keeps its complete record."""

from __future__ import annotations

from pathlib import Path

from loadtest.crash_check import run


def test_acknowledged_calls_survive_kill_9(tmp_path: Path) -> None:
    r = run(rate=150.0, seconds=2.0, agents=40, hold=0.05, workdir=tmp_path)
    assert r.acked > 50  # load was running when the process died
    assert r.missing == [] and r.incomplete == []
    assert r.complete == r.acked
    assert r.integrity == "ok"
