"""Garbage-collector settings for long-running hosts and benchmarks.

The engine keeps many long-lived objects (calls, agents, queue entries). CPython's default
thresholds make the collector walk them over and over; freezing what exists after start-up and
collecting the young generation less often removes most of that work. Hosts call this once
they are set up; the benchmarks call it so that they measure what the server runs.
"""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Freeze the objects alive now and raise the young-generation threshold."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
