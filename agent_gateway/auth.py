"""Who may sign in: salted secret hashes, the credentials sections and sign-in throttling.

Secrets are stored as `scrypt$<log2 n>$<r>$<p>$<salt b64>$<hash b64>`; the cost travels with
each hash so it can be raised later without invalidating old ones. Verification costs tens of
milliseconds on purpose: hosts run it in a worker thread, never on the event loop.

Config (validated by `acd check-config`):

    [credentials.agents]          # agent id -> hash (`acd hash-secret` prints one)
    "1001" = "scrypt$14$8$1$..."

    [supervisors.sup-north]       # supervisors and admins of the /admin socket
    name = "North floor lead"
    secret = "scrypt$14$8$1$..."
    role = "supervisor"           # or "admin" (may do everything)
    teams = ["north"]             # scope: the agents of these teams...
    groups = ["general"]          # ...and the calls and agents of these groups
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from acd.configread import Loc, Problems
from acd.model import EMPTY_MAP, CenterConfig
from acd.settings import AuthLimits, section_reader

Role = Literal["agent", "supervisor", "admin"]

SCHEME = "scrypt"
DEFAULT_LOG_N = 14  # n = 16384: ~20-50 ms per check here, 16 MiB of memory
_R, _P, _SALT, _LEN = 8, 1, 16, 32


class BadHash(ValueError):
    """A stored secret hash that cannot be read."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_secret(secret: str, *, log_n: int = DEFAULT_LOG_N, salt: bytes | None = None) -> str:
    """A salted scrypt hash of `secret`, in the stored format."""
    salt = os.urandom(_SALT) if salt is None else salt
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=1 << log_n, r=_R, p=_P, maxmem=1 << 26, dklen=_LEN
    )
    return f"{SCHEME}${log_n}${_R}${_P}${_b64(salt)}${_b64(digest)}"


def check_hash_format(stored: str) -> str | None:
    """Why `stored` is not a usable hash, or None when it is."""
    try:
        _parse(stored)
    except BadHash as err:
        return str(err)
    return None


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise BadHash(
            "not a secret hash (expected scrypt$logN$r$p$salt$hash; see `acd hash-secret`)"
        )
    try:
        log_n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError as err:
        raise BadHash(f"unreadable secret hash: {err}") from None
    if not (1 <= log_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16) or len(salt) < 8 or not digest:
        raise BadHash("secret hash parameters out of range")
    return log_n, r, p, salt, digest


def verify_secret(secret: str, stored: str) -> bool:
    """True when `secret` matches the stored hash (constant-time compare)."""
    try:
        log_n, r, p, salt, digest = _parse(stored)
    except BadHash:
        return False
    got = hashlib.scrypt(
        secret.encode(), salt=salt, n=1 << log_n, r=r, p=p, maxmem=1 << 27, dklen=len(digest)
    )
    return hmac.compare_digest(got, digest)


@dataclass(frozen=True, slots=True)
class Staff:
    """A supervisor or admin of the /admin socket and its scope."""

    id: str
    role: Role
    secret: str
    name: str = ""
    teams: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Credentials:
    """Agent secret hashes and the staff list (sections [credentials] and [supervisors])."""

    agents: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)
    staff: Mapping[str, Staff] = field(default_factory=lambda: EMPTY_MAP)


def parse_credentials(center: CenterConfig, problems: Problems) -> Credentials:
    """Read [credentials.agents] and [supervisors]; every hash and reference is checked."""
    agents: dict[str, str] = {}
    r = section_reader(center, "credentials", problems)
    if r is not None:
        sub = r.table_at("agents")
        if sub is not None:
            for agent_id, value, loc in sub.entries():
                if agent_id not in center.agents:
                    problems.error(loc, f"unknown agent {agent_id!r}")
                elif not isinstance(value, str):
                    problems.error(loc, "must be a secret hash string")
                elif (why := check_hash_format(value)) is not None:
                    problems.error(loc, why)
                else:
                    agents[agent_id] = value
        r.finish()
    staff: dict[str, Staff] = {}
    s = section_reader(center, "supervisors", problems)
    if s is not None:
        for sup_id, t in s.tables():
            secret = t.text("secret", required=True)
            if secret and (why := check_hash_format(secret)):
                t.error("secret", why)
            role = t.one_of("role", ("supervisor", "admin"), "supervisor")
            teams = t.text_list("teams") or []
            groups = t.text_list("groups") or []
            for team, loc in teams:
                if team not in center.teams:
                    problems.error(loc, f"unknown team {team!r}")
            for group, loc in groups:
                if group not in center.groups:
                    problems.error(loc, f"unknown group {group!r}")
            name = t.opt_text("name") or ""
            t.finish()
            if sup_id in center.agents:
                problems.error(s.loc(sup_id), "a supervisor id must not be an agent id")
            staff[sup_id] = Staff(
                sup_id,
                "admin" if role == "admin" else "supervisor",
                secret,
                name,
                frozenset(v for v, _ in teams),
                frozenset(v for v, _ in groups),
            )
    if not agents and not staff:
        problems.warning(
            Loc(center.source, "credentials"),
            "no credentials: nobody can sign in (see docs/configuration.md, `acd hash-secret`)",
        )
    return Credentials(agents, staff)


@dataclass(slots=True)
class _Window:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0


class SignInLimiter:
    """Throttles failed sign-ins per identity and per address.

    After `max_failures` failures of one identity, or `address_max_failures` from one address,
    within `window` seconds, that identity (or address) is locked for `lockout` seconds; a
    success clears the identity's record. Time is a parameter.
    """

    def __init__(self, limits: AuthLimits, max_keys: int = 100_000) -> None:
        self._limits = limits
        self._max_keys = max_keys
        self._windows: dict[str, _Window] = {}

    def retry_after(self, identity: str, address: str, now: float) -> float:
        """Seconds until a sign-in may be tried (0 when it may be tried now)."""
        wait = 0.0
        for key in (f"id:{identity}", f"ip:{address}"):
            w = self._windows.get(key)
            if w is not None and w.locked_until > now:
                wait = max(wait, w.locked_until - now)
        return wait

    def failed(self, identity: str, address: str, now: float) -> None:
        """Count a failed sign-in against both the identity and the address."""
        lim = self._limits
        if len(self._windows) >= self._max_keys:
            self._prune(now)
        for key, most in (
            (f"id:{identity}", lim.max_failures),
            (f"ip:{address}", lim.address_max_failures),
        ):
            w = self._windows.setdefault(key, _Window())
            w.failures.append(now)
            while w.failures and w.failures[0] <= now - lim.window:
                w.failures.popleft()
            if len(w.failures) >= most:
                w.locked_until = now + lim.lockout
                w.failures.clear()

    def succeeded(self, identity: str) -> None:
        """Forget the identity's failures (the address keeps its record)."""
        self._windows.pop(f"id:{identity}", None)

    def _prune(self, now: float) -> None:
        horizon = now - self._limits.window
        for key in [
            k
            for k, w in self._windows.items()
            if w.locked_until <= now and (not w.failures or w.failures[-1] <= horizon)
        ]:
            del self._windows[key]
