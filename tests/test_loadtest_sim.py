"""`acd-loadtest --mode sim` against queueing theory, through its command line and JSON."""

from __future__ import annotations

import json

import pytest

from loadtest.cli import main, parse_mix


def run(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["--json", *args]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


def test_sim_mode_reproduces_erlang_c(capsys: pytest.CaptureFixture[str]) -> None:
    # One agent at a = 0.5, 200,000 calls: across seeds the ASA error has a standard
    # deviation of ~0.7%, so the 3% tolerance below is > 4 sigma (busier, larger cases
    # need millions of calls for the same certainty; tests/test_theory.py covers them).
    r = run(capsys, "--agents", "1", "--rate", "0.0025", "--aht", "200", "--duration", "8e7",
            "--warmup", "1e4", "--sl-threshold", "20", "--seed", "7")  # fmt: skip
    keys = {"offered", "answered", "abandoned", "blocked", "service_level", "asa_seconds",
            "abandon_rate", "aht_seconds", "occupancy", "calls_per_second", "erlang_c"}  # fmt: skip
    assert keys <= set(r)
    c = r["erlang_c"]
    assert isinstance(c, dict) and set(c) == {"service_level", "asa_seconds", "p_wait"}
    assert r["offered"] > 190_000 and r["abandoned"] == 0 and "erlang_a" not in r
    assert abs(r["service_level"] - c["service_level"]) <= 0.015  # type: ignore[operator]
    assert abs(r["asa_seconds"] / c["asa_seconds"] - 1) <= 0.03  # type: ignore[operator]


def test_sim_mode_reproduces_erlang_a_abandonment(capsys: pytest.CaptureFixture[str]) -> None:
    r = run(capsys, "--agents", "20", "--rate", "0.1", "--aht", "200", "--patience", "60",
            "--duration", "1e6", "--warmup", "4000", "--seed", "3")  # fmt: skip
    a = r["erlang_a"]
    assert isinstance(a, dict) and set(a) == {"service_level", "abandon_rate", "asa_seconds"}
    assert abs(r["abandon_rate"] - a["abandon_rate"]) <= 0.01  # type: ignore[operator]


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


def test_agents_take_breaks_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    calm = run(capsys, "--agents", "5", "--rate", "0.02", "--duration", "20000", "--seed", "4")
    tired = run(capsys, "--agents", "5", "--rate", "0.02", "--duration", "20000", "--seed", "4",
                "--breaks-every", "600")  # fmt: skip
    # breaks take staffed time away: the same work fills a larger share of what is left
    assert tired["occupancy"] > calm["occupancy"] + 0.05  # type: ignore[operator]
    assert tired["answered"] > 0.9 * calm["answered"]  # type: ignore[operator]
