"""Crash check: kill -9 a server during load; after a restart every call whose end was
acknowledged must have its complete record, and the database must open clean.

    python -m loadtest.crash_check --rate 200 --seconds 3 --agents 50

Prints: calls started, ends sent, ends acknowledged before the kill, acknowledged calls with a
complete record after the restart (must equal the acknowledged count), records of calls
never acknowledged (committed, ack lost with the process), the integrity check, and the
time the restarted server took to be ready.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import websockets

from acd.store import open_store

CONFIG = """
[center]
name = "crash test"
timezone = "UTC"
[groups.g]
name = "G"
skill = "g"
wrap_up = {{ mode = "none" }}
ring_timeout = 30
[[agent_blocks]]
first = 1001
count = {agents}
skills = {{ g = 5 }}
groups = ["g"]
"""


@dataclass
class Result:
    """What one crash run found."""

    started: int
    ends_sent: int
    acked: int
    complete: int
    missing: list[str]
    incomplete: list[str]
    unacked_records: int
    integrity: str
    ready_seconds: float


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(config: Path, data: Path, port: int) -> subprocess.Popen[bytes]:
    """The server in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "loadtest.crash_switch", "--config", str(config),
         "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> float:
    """Seconds until /readyz answers 200."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode}: {err[-2000:]}")
        url = f"http://127.0.0.1:{port}/readyz"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as r:
            if r.status == 200:
                return time.monotonic() - t0
        time.sleep(0.05)
    raise TimeoutError("server not ready")


async def load(
    port: int, rate: float, seconds: float, hold: float, proc: subprocess.Popen[bytes]
) -> tuple[int, int, set[str]]:
    """Send calls for `seconds`, kill the server mid-way through, return what was acked."""
    acked: set[str] = set()
    tasks: set[asyncio.Task[None]] = set()
    started = 0
    sent = [0]
    async with websockets.connect(f"ws://127.0.0.1:{port}/crash-switch", max_queue=None) as ws:

        async def reader() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for frame in ws:
                    msg = json.loads(frame)
                    if "ack" in msg:
                        acked.add(msg["ack"])

        rtask = asyncio.create_task(reader())
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        i = 0
        try:
            while loop.time() - t0 < seconds:
                i += 1
                cid = f"k{i:09d}"
                await ws.send(json.dumps({"call": cid}))
                started += 1

                async def end(c: str = cid) -> None:
                    await asyncio.sleep(hold)
                    with contextlib.suppress(websockets.ConnectionClosed):
                        await ws.send(json.dumps({"end": c}))
                        sent[0] += 1

                task = asyncio.create_task(end())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                await asyncio.sleep(max(0.0, t0 + i / rate - loop.time()))
                if loop.time() - t0 >= seconds * 0.7 and proc.poll() is None:
                    # Kill -9 during load: acks in flight are lost with the process.
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait()
                    rtask.cancel()
                    return started, sent[0], acked
        except websockets.ConnectionClosed:
            pass
        rtask.cancel()
    return started, sent[0], acked


def complete(rec: object, notes: list[object]) -> bool:
    """The record has what a finished call's record needs."""
    r = rec  # CallRecord
    ok = (
        getattr(r, "queued_at", None) is not None
        and getattr(r, "cause", "") in ("completed", "abandoned")
        and bool(getattr(r, "detail", {}).get("segments"))
        and any(getattr(n, "kind", "") == "ivr" for n in notes)
    )
    if ok and getattr(r, "cause", "") == "completed":
        ok = bool(getattr(r, "agents", [])) and bool(getattr(r, "detail", {}).get("answers"))
    return ok


def run(rate: float, seconds: float, agents: int, hold: float, workdir: Path) -> Result:
    """One crash run in `workdir`."""
    config = workdir / "center.toml"
    config.write_text(CONFIG.format(agents=agents))
    data = workdir / "data"
    port = free_port()
    proc = start_server(config, data, port)
    try:
        wait_ready(port, proc)
        started, ends, acked = asyncio.run(load(port, rate, seconds, hold, proc))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Restart on the same folder: it must open and serve.
    port = free_port()
    proc = start_server(config, data, port)
    try:
        ready = wait_ready(port, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    store = open_store(data, writer=False)
    ids = store.call_ids()
    missing = sorted(a for a in acked if a not in ids)
    incomplete = []
    for cid in sorted(acked - set(missing)):
        rec = store.call(cid)
        if rec is None or not complete(rec, list(store.notes_for(cid))):
            incomplete.append(cid)
    result = Result(
        started=started,
        ends_sent=ends,
        acked=len(acked),
        complete=len(acked) - len(missing) - len(incomplete),
        missing=missing,
        incomplete=incomplete,
        unacked_records=len(ids - acked),
        integrity=store.check(),
        ready_seconds=ready,
    )
    store.close()
    return result


def main() -> int:
    """Print the figures of one crash run."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=float, default=200.0, help="calls per second")
    p.add_argument("--seconds", type=float, default=3.0, help="load before the kill (x0.7)")
    p.add_argument("--agents", type=int, default=50)
    p.add_argument("--hold", type=float, default=0.05, help="seconds from call to hang-up")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = run(args.rate, args.seconds, args.agents, args.hold, Path(tmp))
    print(f"calls started            {r.started}")
    print(f"ends sent                {r.ends_sent}")
    print(f"ends acknowledged        {r.acked}")
    print(f"acked with full record   {r.complete}")
    print(f"acked, record missing    {len(r.missing)}")
    print(f"acked, record incomplete {len(r.incomplete)}")
    print(f"records never acked      {r.unacked_records}")
    print(f"integrity check          {r.integrity}")
    print(f"restart ready in         {r.ready_seconds:.2f} s")
    return 0 if not r.missing and not r.incomplete and r.integrity == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
