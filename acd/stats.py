"""Live per-group figures the engine itself needs (and wallboards may read).

Service level convention (domain.md): answered within T / (answered + abandoned after T);
calls abandoned within T are left out of both sides. T is the group's service-target seconds.
Intervals are aligned to local wall-clock boundaries of the center's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(slots=True)
class Counters:
    """Counts for one interval or one day."""

    start: float = 0.0
    end: float = 0.0
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    abandoned_within: int = 0
    blocked: int = 0
    wait_answered: float = 0.0  # sum of queue waits of answered calls (ASA numerator)
    handled: int = 0
    handle_time: float = 0.0  # talk + hold + wrap-up of handled calls

    def service_level(self) -> float | None:
        """The convention above; None before any call counts."""
        denom = self.answered + self.abandoned - self.abandoned_within
        return self.answered_within / denom if denom else None

    def asa(self) -> float | None:
        """Mean wait of answered calls."""
        return self.wait_answered / self.answered if self.answered else None

    def aht(self) -> float | None:
        """Mean handle time."""
        return self.handle_time / self.handled if self.handled else None

    def abandon_rate(self) -> float | None:
        """Abandoned / offered."""
        return self.abandoned / self.offered if self.offered else None


def bounds(now: float, tz: dt.tzinfo, seconds: int) -> tuple[float, float]:
    """Start and end of the local-time slot of `seconds` containing `now`."""
    local = dt.datetime.fromtimestamp(now, tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    into = (local - midnight).total_seconds()
    start = midnight + dt.timedelta(seconds=(into // seconds) * seconds)
    return start.timestamp(), (start + dt.timedelta(seconds=seconds)).timestamp()


class GroupStats:
    """Interval and day counters of one group, plus a smoothed handle time."""

    __slots__ = ("aht", "day", "interval", "interval_seconds", "threshold", "tz")

    def __init__(self, tz: dt.tzinfo, interval_minutes: int, threshold: float, aht: float):
        self.tz = tz
        self.interval_seconds = interval_minutes * 60
        self.threshold = threshold
        self.interval = Counters()
        self.day = Counters()
        self.aht = aht  # exponentially smoothed handle time, seeded by config

    def roll(self, now: float) -> None:
        """Start new counters when `now` left the current interval or day."""
        if now >= self.interval.end:
            s, e = bounds(now, self.tz, self.interval_seconds)
            self.interval = Counters(start=s, end=e)
        if now >= self.day.end:
            s, e = bounds(now, self.tz, 86400)
            self.day = Counters(start=s, end=e)

    def _both(self, now: float) -> tuple[Counters, Counters]:
        self.roll(now)
        return self.interval, self.day

    def offered(self, now: float) -> None:
        """A call entered the group's queue."""
        if now >= self.interval.end or now >= self.day.end:
            self.roll(now)
        self.interval.offered += 1  # once per call: spelled out, no loop
        self.day.offered += 1

    def blocked(self, now: float) -> None:
        """A call was refused (full / closed / paused)."""
        for c in self._both(now):
            c.offered += 1
            c.blocked += 1

    def answered(self, now: float, wait: float) -> None:
        """A call from the group was answered after `wait` seconds."""
        within = wait <= self.threshold
        for c in self._both(now):
            c.answered += 1
            c.answered_within += within
            c.wait_answered += wait

    def abandoned(self, now: float, wait: float) -> None:
        """A caller hung up after waiting `wait` seconds."""
        within = wait <= self.threshold
        for c in self._both(now):
            c.abandoned += 1
            c.abandoned_within += within

    def handled(self, now: float, seconds: float) -> None:
        """A call's handling (talk + hold + wrap-up) finished."""
        for c in self._both(now):
            c.handled += 1
            c.handle_time += seconds
        self.aht += 0.05 * (seconds - self.aht)

    def service_level(self, now: float) -> float | None:
        """Service level of the current interval."""
        self.roll(now)
        return self.interval.service_level()
