"""The `[reports]` section: FCR window, the relative performance model's weights, anomaly
thresholds. Every key is optional.

```toml
[reports]
fcr_window_hours = 24
[reports.weights]          # seed 001's relative performance model
talk_rate = 0.2
utilisation = 0.2
satisfaction = 0.25
answer_15s = 0.15
aht = 0.2
[reports.anomalies]
max_sign_ins_per_day = 6
short_call_seconds = 10
long_call_seconds = 1800
short_long_share = 0.1
night_start_hour = 0
night_end_hour = 6
night_share = 0.3
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd.configread import Problems
from acd.model import CenterConfig
from acd.settings import section_reader

WEIGHT_KEYS = ("talk_rate", "utilisation", "satisfaction", "answer_15s", "aht")
DEFAULT_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"talk_rate": 0.2, "utilisation": 0.2, "satisfaction": 0.25, "answer_15s": 0.15, "aht": 0.2}
)


@dataclass(frozen=True, slots=True)
class Anomalies:
    """When an agent's figures are flagged (seed 001 warns of gaming)."""

    max_sign_ins_per_day: float = 6.0
    short_call_seconds: float = 10.0
    long_call_seconds: float = 1800.0
    short_long_share: float = 0.1  # flag when more than this share of calls is short (or long)
    night_start_hour: int = 0
    night_end_hour: int = 6
    night_share: float = 0.3  # flag when more than this share of calls is handled at night


@dataclass(frozen=True, slots=True)
class ReportSettings:
    """Settings of `acd report`."""

    fcr_window_hours: float = 24.0
    weights: Mapping[str, float] = field(default_factory=lambda: DEFAULT_WEIGHTS)
    anomalies: Anomalies = Anomalies()


def parse_reports(center: CenterConfig, problems: Problems) -> ReportSettings:
    """Read `[reports]`."""
    d = ReportSettings()
    r = section_reader(center, "reports", problems)
    if r is None:
        return d
    weights = dict(d.weights)
    w = r.table_at("weights")
    if w is not None:
        for key in WEIGHT_KEYS:
            weights[key] = w.number(key, weights[key], lo=0)
        w.finish()
    an = d.anomalies
    a = r.table_at("anomalies")
    if a is not None:
        an = Anomalies(
            max_sign_ins_per_day=a.number("max_sign_ins_per_day", an.max_sign_ins_per_day, lo=1),
            short_call_seconds=a.number("short_call_seconds", an.short_call_seconds, lo=0),
            long_call_seconds=a.number("long_call_seconds", an.long_call_seconds, lo=1),
            short_long_share=a.number("short_long_share", an.short_long_share, lo=0, hi=1),
            night_start_hour=a.integer("night_start_hour", an.night_start_hour, lo=0, hi=23),
            night_end_hour=a.integer("night_end_hour", an.night_end_hour, lo=0, hi=24),
            night_share=a.number("night_share", an.night_share, lo=0, hi=1),
        )
        a.finish()
    settings = ReportSettings(
        fcr_window_hours=r.number("fcr_window_hours", d.fcr_window_hours, lo=0),
        weights=MappingProxyType(weights),
        anomalies=an,
    )
    r.finish()
    return settings
