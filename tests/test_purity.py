"""The routing core stays sans-I/O: no asyncio, sockets, wall clock, logging or metrics."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = [
    "engine.py", "events.py", "states.py", "queues.py", "strategies.py", "live.py", "model.py",
    "stats.py", "timers.py", "errors.py", "invariants.py", "sim.py", "erlang.py",
    "members.py", "builders.py",
]  # fmt: skip
FORBIDDEN = {"asyncio", "websockets", "structlog", "prometheus_client", "socket", "time", "uvloop"}


def test_core_modules_import_nothing_that_does_io_or_reads_the_clock() -> None:
    root = Path(__file__).resolve().parent.parent / "acd"
    for name in CORE:
        tree = ast.parse((root / name).read_text())
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for m in mods:
                assert m.split(".")[0] not in FORBIDDEN, f"acd/{name} imports {m}"
                assert m not in ("acd.host", "acd.server", "acd.app"), f"acd/{name} imports {m}"
