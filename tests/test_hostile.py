"""Hostile and careless clients against a real server: each is refused or dropped with a
reason, and the signed-in agents keep taking calls (loadtest/hostile.py prints the figures)."""

from __future__ import annotations

from pathlib import Path

from loadtest.hostile import parser, run


def test_hostile_clients_are_contained(tmp_path: Path) -> None:
    args = parser().parse_args(
        ["--agents", "4", "--rate", "4", "--clean", "1.5", "--signins", "1000", "--flood",
         "2000", "--silent", "30", "--half-open", "5", "--never-read", "2000"]
    )  # fmt: skip
    r = run(tmp_path, args)
    assert r.never_reads == "closed by the server"
    assert r.flood["rate_limited"] > 0 and r.flood_close  # limited, then closed with a reason
    assert r.signins["throttled"] > 900  # locked out: no secret is checked any more
    assert r.signins.get("ok", 0) == 0
    assert sum(r.silent_closed.values()) == 30
    assert all(k.startswith("4004 ") for k in r.silent_closed)
    assert r.half_open_closed == r.half_open == 5
    assert r.no_upgrade_closed == 5
    assert r.good_request_ok and r.alive
    assert r.offers_before + r.offers_during > 0
    assert r.connections_after == 0
