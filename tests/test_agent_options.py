"""[agent_gateway] options and the [server] keys the agent socket adds are validated."""

from __future__ import annotations

from pathlib import Path

from acd.settings import validate_settings
from agent_gateway.options import GatewayOptions


def test_options_are_read_and_bad_values_name_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    base = '[groups.g]\nname = "G"\nskill = "g"\n[agents.a]\nskills = { g = 1 }\n'
    cfg.write_text(
        base + "[agent_gateway]\nstats_interval = 0\nsign_out_after_grace = false\n"
        "[server]\nclose_timeout = 5\n",
        encoding="utf-8",
    )
    settings, problems = validate_settings(cfg)
    assert settings is not None, problems.errors
    assert settings.parts["agent_gateway"] == GatewayOptions(0.0, 5, False)
    assert settings.server.close_timeout == 5
    cfg.write_text(base + "[agent_gateway]\nstats_interval = -1\nbogus = 1\n", encoding="utf-8")
    settings, problems = validate_settings(cfg)
    assert settings is None
    text = "\n".join(problems.errors)
    assert "c.toml" in text and "agent_gateway.stats_interval" in text
    assert "agent_gateway.bogus" in text


def test_sign_in_throttling_has_its_own_limit_per_address(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    base = '[groups.g]\nname = "G"\nskill = "g"\n[agents.a]\nskills = { g = 1 }\n[server.auth]\n'
    cfg.write_text(base + "max_failures = 4\naddress_max_failures = 200\n", encoding="utf-8")
    settings, problems = validate_settings(cfg)
    assert settings is not None, problems.errors
    auth = settings.server.auth
    assert (auth.max_failures, auth.address_max_failures) == (4, 200)
    cfg.write_text(base + "address_max_failures = 0\n", encoding="utf-8")
    settings, problems = validate_settings(cfg)
    assert settings is None
    assert any("c.toml" in e and "server.auth.address_max_failures" in e for e in problems.errors)
