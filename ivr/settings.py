"""The `[switch]` table: which switches may connect, with what token, and the link's timers.

    [switch]
    ack_timeout = 5        # seconds a command may wait for the switch's result
    grace = 30             # seconds a disconnected switch's calls wait for its resync
    rate_per_second = 5000 # requests per switch connection, sustained
    rate_burst = 20000
    write_window = 0.002   # seconds between writes to a busy switch (0: every loop turn)

    [switch.switches.pbx-1]
    token = "scrypt$14$8$1$..."   # salted hash of the switch's token (`acd hash-secret`)

Tokens are stored only as salted hashes and checked in constant time; they are never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.configread import Problems
from acd.model import EMPTY_MAP, CenterConfig
from acd.settings import section_reader
from agent_gateway.auth import check_hash_format


@dataclass(frozen=True, slots=True)
class SwitchSettings:
    """The validated `[switch]` table."""

    tokens: Mapping[str, str] = field(default_factory=lambda: EMPTY_MAP)  # switch id -> hash
    ack_timeout: float = 5.0
    grace: float = 30.0
    rate_per_second: float = 5000.0
    rate_burst: int = 20000
    max_calls: int = 100_000  # live calls per switch
    write_window: float = 0.002  # see acd.wsconn.LeanConnection.write_frame


def parse_switch(center: CenterConfig, problems: Problems) -> SwitchSettings:
    """Read `[switch]` (absent: no switch may connect)."""
    d = SwitchSettings()
    r = section_reader(center, "switch", problems)
    if r is None:
        return d
    tokens: dict[str, str] = {}
    st = r.table_at("switches")
    if st is not None:
        for sid, sr in st.tables():
            token = sr.text("token", required=True, nonempty=True)
            if token:
                why = check_hash_format(token)
                if why is not None:
                    sr.error("token", why)  # the message never repeats the value
                else:
                    tokens[sid] = token
            sr.allow("description")
    settings = SwitchSettings(
        tokens=MappingProxyType(tokens),
        ack_timeout=r.number("ack_timeout", d.ack_timeout, lo=0.05, hi=120),
        grace=r.number("grace", d.grace, lo=0, hi=3600),
        rate_per_second=r.number("rate_per_second", d.rate_per_second, lo=1),
        rate_burst=r.integer("rate_burst", d.rate_burst, lo=1),
        max_calls=r.integer("max_calls", d.max_calls, lo=1),
        write_window=r.number("write_window", d.write_window, lo=0, hi=0.05),
    )
    r.finish()
    return settings
