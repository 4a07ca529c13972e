"""Options of the agent gateway, section [agent_gateway] (every key optional).

    [agent_gateway]
    stats_interval = 10       # seconds between group figures pushed to each agent (0 = never)
    recent_contacts = 5       # caller's recent contacts shown in the screen pop (0 = none)
    sign_out_after_grace = true   # sign out an agent whose desktop did not come back

Limits shared with the other sockets (frame size, rate, resume grace, second sign-in) are in
[server].
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.configread import Problems
from acd.model import CenterConfig
from acd.settings import section_reader


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """What [agent_gateway] sets."""

    stats_interval: float = 10.0
    recent_contacts: int = 5
    sign_out_after_grace: bool = True


def parse_options(center: CenterConfig, problems: Problems) -> GatewayOptions:
    """Read [agent_gateway]."""
    d = GatewayOptions()
    r = section_reader(center, "agent_gateway", problems)
    if r is None:
        return d
    options = GatewayOptions(
        stats_interval=r.number("stats_interval", d.stats_interval, lo=0),
        recent_contacts=r.integer("recent_contacts", d.recent_contacts, lo=0),
        sign_out_after_grace=r.flag("sign_out_after_grace", d.sign_out_after_grace),
    )
    r.finish()
    return options
