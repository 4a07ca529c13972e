"""Everything `acd serve` and `acd check-config` read: the core's configuration plus the
sections the other sides own ([server], [ivr], [switch], [supervisors]...).

`load_settings(path)` validates the whole file set in one pass and raises `ConfigError` with
every problem (file, key path, reason). Each side contributes a parser listed in `PARTS`: a
function `(CenterConfig, Problems) -> object` that reads its raw section with
`acd.configread.Reader`, records problems and returns its typed settings.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from acd.config import validate_config
from acd.configread import Problems, Reader, Table
from acd.errors import ConfigError
from acd.model import EMPTY_MAP, CenterConfig

PartParser = Callable[[CenterConfig, Problems], Any]

# name -> "module:function"; imported lazily so the core never depends on the sides.
PARTS: dict[str, str] = {
    "server": "acd.settings:parse_server",
    "store": "acd.journal:parse_store",
    "reports": "acd.reports.settings:parse_reports",
    "credentials": "agent_gateway.auth:parse_credentials",
    "ivr": "ivr.flows:parse_ivr",
    "switch": "ivr.settings:parse_switch",
    "agent_gateway": "agent_gateway.options:parse_options",
}


@dataclass(frozen=True, slots=True)
class AuthLimits:
    """Failed sign-ins allowed per identity and per address before a lockout."""

    max_failures: int = 5  # per agent or supervisor id
    window: float = 60.0
    lockout: float = 300.0
    # Per address: a whole floor of desktops often signs in from one NAT address, where a few
    # mistyped secrets must not lock everyone out at the start of a shift.
    address_max_failures: int = 50


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Limits shared by the three websockets and the HTTP endpoints (section [server])."""

    max_frame_bytes: int = 65536
    send_queue_frames: int = 2000  # frames waiting for a slow reader before it is dropped
    rate_per_second: float = 50.0  # requests per session, sustained
    rate_burst: int = 200
    hello_timeout: float = 5.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    resume_grace: float = 60.0  # a lost session may resume this long
    replay_buffer: int = 1000  # pushes kept for resume
    max_connections: int = 20000
    second_sign_in: Literal["takeover", "refuse"] = "takeover"
    auth: AuthLimits = AuthLimits()
    close_timeout: float = 2.0  # seconds a closing handshake may take before the socket drops
    drain_timeout: float = 600.0  # a drain hands the calls still held back to the switch then
    debug_state: bool = False  # serve GET /debug/state (lists calls: keep it off in production)


def _section(center: CenterConfig, name: str) -> Table | None:
    value = center.sections.get(name)
    return value if isinstance(value, Table) else None


def section_reader(center: CenterConfig, name: str, problems: Problems) -> Reader | None:
    """A Reader over a raw section, or None when the file set has no such section."""
    table = _section(center, name)
    return None if table is None else Reader(table, problems)


def parse_server(center: CenterConfig, problems: Problems) -> ServerSettings:
    """Read [server] (every key optional)."""
    d = ServerSettings()
    r = section_reader(center, "server", problems)
    if r is None:
        return d
    auth = d.auth
    sub = r.table_at("auth")
    if sub is not None:
        auth = AuthLimits(
            max_failures=sub.integer("max_failures", auth.max_failures, lo=1),
            window=sub.number("window", auth.window, lo=1),
            lockout=sub.number("lockout", auth.lockout, lo=0),
            address_max_failures=sub.integer(
                "address_max_failures", auth.address_max_failures, lo=1
            ),
        )
    second = r.one_of("second_sign_in", ("takeover", "refuse"), d.second_sign_in)
    settings = ServerSettings(
        max_frame_bytes=r.integer("max_frame_bytes", d.max_frame_bytes, lo=1024),
        send_queue_frames=r.integer("send_queue_frames", d.send_queue_frames, lo=10),
        rate_per_second=r.number("rate_per_second", d.rate_per_second, lo=0.1),
        rate_burst=r.integer("rate_burst", d.rate_burst, lo=1),
        hello_timeout=r.number("hello_timeout", d.hello_timeout, lo=0.1),
        ping_interval=r.number("ping_interval", d.ping_interval, lo=1),
        ping_timeout=r.number("ping_timeout", d.ping_timeout, lo=1),
        resume_grace=r.number("resume_grace", d.resume_grace, lo=0),
        replay_buffer=r.integer("replay_buffer", d.replay_buffer, lo=10),
        max_connections=r.integer("max_connections", d.max_connections, lo=1),
        second_sign_in="refuse" if second == "refuse" else "takeover",
        auth=auth,
        close_timeout=r.number("close_timeout", d.close_timeout, lo=0.1),
        drain_timeout=r.number("drain_timeout", d.drain_timeout, lo=0),
        debug_state=r.flag("debug_state", d.debug_state),
    )
    r.finish()
    return settings


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated configuration of a whole server."""

    center: CenterConfig
    parts: Mapping[str, Any] = field(default_factory=lambda: EMPTY_MAP)
    warnings: tuple[str, ...] = ()

    @property
    def server(self) -> ServerSettings:
        """The [server] limits."""
        value = self.parts["server"]
        assert isinstance(value, ServerSettings)
        return value


def _parser(spec: str) -> PartParser:
    module, _, func = spec.partition(":")
    fn = getattr(importlib.import_module(module), func)
    assert callable(fn)
    return fn  # type: ignore[no-any-return]


def validate_settings(path: str | os.PathLike[str]) -> tuple[Settings | None, Problems]:
    """Read and check everything; never raises for a bad configuration."""
    report = validate_config(path)
    problems = Problems(list(report.errors), list(report.warnings))
    if report.config is None:
        return None, problems
    parts = {name: _parser(spec)(report.config, problems) for name, spec in PARTS.items()}
    if problems.errors:
        return None, problems
    return Settings(report.config, parts, tuple(problems.warnings)), problems


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """The validated settings, or `ConfigError` listing every problem found."""
    settings, problems = validate_settings(path)
    if settings is None:
        raise ConfigError(problems.errors)
    return settings
