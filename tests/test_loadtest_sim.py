"""`acd-loadtest --mode sim` against queueing theory, through its command line and JSON."""

from __future__ import annotations

import json

import pytest

from acd import sim
from acd.sim import Scenario, simulate
from loadtest.cli import main, parse_mix


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_sim_mode_json_has_every_key_and_the_theory_beside_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the accuracy itself is tests/test_theory.py's (200k-call runs through this command)
    r = run(capsys, "--agents", "3", "--rate", "0.01", "--aht", "200", "--duration", "20000",
            "--sl-threshold", "20", "--seed", "7")  # fmt: skip
    keys = {"offered", "answered", "abandoned", "blocked", "service_level", "asa_seconds",
            "abandon_rate", "aht_seconds", "occupancy", "calls_per_second", "erlang_c"}  # fmt: skip
    assert keys <= set(r) and "erlang_a" not in r
    assert r["offered"] == r["answered"] > 150  # type: ignore[operator]
    with_patience = run(capsys, "--agents", "3", "--rate", "0.01", "--patience", "60",
                        "--duration", "20000")  # fmt: skip
    assert "erlang_a" in with_patience
    assert with_patience["abandoned"] > 0  # type: ignore[operator]


def test_theory_is_left_out_when_the_scenario_does_not_fit_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = run(capsys, "--agents", "5", "--rate", "0.02", "--duration", "2000",
            "--handle-dist", "lognormal", "--acw", "20", "--miss-rate", "0.1")  # fmt: skip
    assert "erlang_c" not in r and r["offered"] > 0


def test_brand_mix_parsing() -> None:
    assert parse_mix("vip=0.05,gotone=0.25") == {"vip": 0.05, "gotone": 0.25}
    with pytest.raises(Exception, match="name=weight"):
        parse_mix("vip")


def test_config_routes_and_cities(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "--config", "config/mode3.toml", "--agents", "40", "--rate", "0.1",
            "--duration", "3600", "--brand-mix", "vip=0.1,gotone=0.3,mzone=0.3,easyown=0.3",
            "--routes", "vip=vip-gotone,gotone=vip-gotone,mzone=general,easyown=general",
            "--cities", "nanjing,suzhou,wuxi")  # fmt: skip
    assert r["answered"] > 0 and "erlang_c" not in r


def test_live_mode_refuses_the_sim_only_flags(capsys: pytest.CaptureFixture[str]) -> None:
    # refused before any server is spawned: live mode would run without them
    for flags in (["--group", "vip"], ["--routes", "vip=vip-gotone"], ["--cities", "nanjing"],
                  ["--config", "config/mode3.toml", "--brand-mix", "vip=1"]):  # fmt: skip
        assert main(["--mode", "live", "--duration", "10", *flags]) == 2
        err = capsys.readouterr().err
        assert flags[-2] in err and "only apply in sim mode" in err


def test_agents_take_breaks_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    calm = run(capsys, "--agents", "5", "--rate", "0.02", "--duration", "20000", "--seed", "4")
    tired = run(capsys, "--agents", "5", "--rate", "0.02", "--duration", "20000", "--seed", "4",
                "--breaks-every", "600")  # fmt: skip
    # breaks take staffed time away: the same work fills a larger share of what is left
    assert tired["occupancy"] > calm["occupancy"] + 0.05  # type: ignore[operator]
    assert tired["answered"] > 0.9 * calm["answered"]  # type: ignore[operator]


def test_a_storm_estimates_a_sample_of_waits_and_a_short_queue_every_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 30 calls a second against 25 a second of capacity: the queue grows to about 1,500
    storm = simulate(Scenario(agents=100, rate=30.0, aht=4.0, duration=300.0, seed=2))
    assert storm.ewt_samples < storm.answered / 5  # a pass over the queue not paid by each
    assert storm.ewt_samples > 300.0 * 30.0 * sim.EWT_SAMPLE / 1500 / 2  # but a fair sample is
    assert abs(storm.ewt_bias) < 0.1 * storm.asa  # and it still says how good the estimate is
    calm = Scenario(agents=10, rate=0.2, aht=40.0, duration=5000.0, seed=2)
    sampled = simulate(calm).ewt_samples
    monkeypatch.setattr(sim, "EWT_SAMPLE", 10**9)  # every queued arrival estimated
    assert sampled == simulate(calm).ewt_samples > 0
