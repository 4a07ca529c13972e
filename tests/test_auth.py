"""Secret hashes, the credentials sections and sign-in throttling."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.settings import AuthLimits, load_settings, validate_settings
from agent_gateway.auth import (
    Credentials,
    SignInLimiter,
    check_hash_format,
    hash_secret,
    verify_secret,
)

BUNDLED = Path(__file__).resolve().parents[1] / "config" / "center.toml"


def test_hash_round_trip_and_salt() -> None:
    a = hash_secret("correct horse", log_n=10)
    b = hash_secret("correct horse", log_n=10)
    assert a != b  # salted
    assert verify_secret("correct horse", a)
    assert not verify_secret("correct hors", a)
    assert not verify_secret("correct horse", "plain-text")
    assert check_hash_format(a) is None
    assert check_hash_format("scrypt$10$8$1$$") is not None


def test_bundled_credentials_sign_in() -> None:
    settings = load_settings(BUNDLED)
    creds = settings.parts["credentials"]
    assert isinstance(creds, Credentials)
    assert set(creds.agents) == set(settings.center.agents)
    agent = next(iter(sorted(creds.agents)))
    assert verify_secret(f"demo-{agent}", creds.agents[agent])
    assert creds.staff["admin"].role == "admin"
    assert "general" in creds.staff["sup-mass"].groups


def test_bad_credentials_name_file_and_key(tmp_path: Path) -> None:
    main = BUNDLED.read_text().replace('"credentials.toml"', '"bad.toml"')
    (tmp_path / "shared").mkdir()
    for f in (BUNDLED.parent / "shared").iterdir():
        (tmp_path / "shared" / f.name).write_text(f.read_text())
    (tmp_path / "ivr").mkdir()  # the IVR files the bundled center includes
    for f in (BUNDLED.parent / "ivr").iterdir():
        (tmp_path / "ivr" / f.name).write_text(f.read_text())
    (tmp_path / "customers.csv").write_text((BUNDLED.parent / "customers.csv").read_text())
    (tmp_path / "center.toml").write_text(main)
    (tmp_path / "bad.toml").write_text(
        '[credentials.agents]\n"nobody" = "x"\n"3011" = "plain"\n'
        '[supervisors.s1]\nsecret = "nope"\nteams = ["ghosts"]\nrole = "king"\n'
    )
    settings, problems = validate_settings(tmp_path / "center.toml")
    assert settings is None
    text = "\n".join(problems.errors)
    assert "bad.toml: credentials.agents.nobody: unknown agent" in text
    assert "bad.toml: credentials.agents.3011: not a secret hash" in text
    assert "bad.toml: supervisors.s1.secret" in text
    assert "bad.toml: supervisors.s1.teams[0]: unknown team 'ghosts'" in text
    assert "supervisors.s1.role" in text


def test_limiter_locks_identity_and_address() -> None:
    lim = SignInLimiter(AuthLimits(max_failures=3, window=60, lockout=300, address_max_failures=5))
    for i in range(3):
        assert lim.retry_after("1001", "10.0.0.1", 100 + i) == 0
        lim.failed("1001", "10.0.0.1", 100 + i)
    assert lim.retry_after("1001", "10.0.0.9", 103) == pytest.approx(299)
    # a colleague behind the same address is not locked out by one agent's typos
    assert lim.retry_after("1002", "10.0.0.1", 103) == 0
    lim.failed("1002", "10.0.0.1", 103)
    lim.failed("1003", "10.0.0.1", 104)  # the address's fifth failure: now it is locked
    assert lim.retry_after("1004", "10.0.0.1", 105) == pytest.approx(299)
    assert lim.retry_after("1002", "10.0.0.2", 105) == 0
    assert lim.retry_after("1001", "10.0.0.9", 402) == 0
    # failures spread beyond the window do not add up
    lim2 = SignInLimiter(AuthLimits(max_failures=3, window=10, lockout=300))
    for t in (0, 20, 40, 60):
        lim2.failed("a", "ip", t)
    assert lim2.retry_after("a", "ip", 61) == 0
    lim2.failed("a", "ip", 62)
    lim2.succeeded("a")
    assert lim2.retry_after("a", "other", 63) == 0
