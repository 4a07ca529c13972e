"""Hostile and careless clients against a live server while simulated agents take calls.

    python -m loadtest.hostile --signins 10000 --flood 10000 --silent 200

- a client that never reads (its replies pile up: it is dropped with 4001 once its send queue
  holds `[server] send_queue_frames`);
- one that sends `--flood` messages as fast as it can (`rate_per_second` / `rate_burst`:
  `rate_limited` errors, then a close with a reason);
- `--signins` sign-in attempts with wrong secrets (`[server.auth]`: the identity and the
  address are locked out after `max_failures`; no scrypt work while locked);
- `--silent` connections that open and never say hello (closed with 4004 after
  `hello_timeout`);
- half-open TCP: sockets that finish the websocket handshake then never answer a ping (closed
  after `ping_interval` + `ping_timeout`), and sockets that never finish the HTTP upgrade.

Prints, for each, how the server answered, then whether the working agents kept taking calls
(offers and offer latency p99 before and during), the server's RSS and open descriptors
before, at the peak and after, and its connections at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import struct
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from loadtest.rig import SWITCH_TOKEN, Rig, open_fds, rss_kib
from loadtest.sim_agents import Behaviour, FleetStats, SimFleet
from loadtest.sim_switch import Caller, SimSwitch, poisson

CALLERS = ["13800000001", "13900000002", "13700000003"]
LIMITS = """ping_interval = 1
ping_timeout = 1
send_queue_frames = 200
[server.auth]
max_failures = 5
window = 60
lockout = 300"""


def _frame(payload: bytes, opcode: int = 1) -> bytes:
    """A masked client frame (RFC 6455)."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def _raw(rig: Rig, path: str, rcvbuf: int = 0) -> tuple[asyncio.StreamReader, Any]:
    """A websocket opened by hand: (reader, writer) after the 101 response."""
    import socket

    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", rig.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{rig.port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


async def _closed(reader: asyncio.StreamReader, timeout: float) -> bool:
    """True once the server closed the TCP connection (reads and drops what comes)."""
    end = time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            data = await asyncio.wait_for(reader.read(65536), end - time.monotonic())
            if not data:
                return True
    except (TimeoutError, ConnectionError):
        return False
    return False


@dataclass
class HostileResult:
    """What each hostile client got, and how everyone else fared."""

    never_reads: str = ""
    flood: Counter[str] = field(default_factory=Counter)
    flood_close: str = ""
    signins: Counter[str] = field(default_factory=Counter)
    silent_closed: Counter[str] = field(default_factory=Counter)
    half_open_closed: int = 0
    half_open: int = 0
    no_upgrade_closed: int = 0
    offers_before: int = 0
    offers_during: int = 0
    p99_before: float = 0.0
    p99_during: float = 0.0
    rss_before: int = 0
    rss_peak: int = 0
    rss_after: int = 0
    fds_before: int = 0
    fds_peak: int = 0
    fds_after: int = 0
    alive: bool = False
    connections_after: int = 0
    good_request_ok: bool = False


async def never_reads(rig: Rig, frames: int) -> str:
    """Send requests without ever reading a reply; returns how the server ended it."""
    reader, writer = await _raw(rig, "/agent", rcvbuf=4096)
    writer.write(_frame(json.dumps({"type": "hello", "id": 1, "version": 1}).encode()))
    for i in range(frames):
        msg = {"type": "accept", "id": i + 2, "call_id": "x" * 2000}
        writer.write(_frame(json.dumps(msg).encode()))
        if i % 200 == 0:
            try:
                await asyncio.wait_for(writer.drain(), 2.0)
            except (TimeoutError, ConnectionError):
                break
    # Wait for the server to give up on us, reading only now.
    closed = await _closed(reader, 20.0)
    writer.close()
    return "closed by the server" if closed else "still open"


async def flood(rig: Rig, n: int, res: HostileResult) -> None:
    """`n` messages as fast as possible on a signed-in switch-free agent socket."""
    async with connect(f"{rig.base}/agent", ping_interval=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "hello", "id": 1, "version": 1, "client": "flood"}))
        t0 = time.monotonic()
        try:
            for i in range(n):
                await ws.send(json.dumps({"type": "hangup", "id": i + 2, "call_id": "none"}))
            async for data in ws:
                msg = json.loads(data)
                res.flood[str(msg.get("code") or msg.get("type"))] += 1
        except ConnectionClosed as err:
            rc = err.rcvd
            res.flood_close = f"{rc.code} {rc.reason}" if rc else "no close frame"
        res.flood["seconds_x1000"] = int(1000 * (time.monotonic() - t0))


async def wrong_secrets(rig: Rig, n: int, res: HostileResult) -> None:
    """`n` sign-ins with wrong secrets (reconnecting whenever the server closes)."""
    done = 0
    while done < n:
        try:
            async with connect(f"{rig.base}/agent", ping_interval=None, compression=None) as ws:
                await ws.send(json.dumps({"type": "hello", "id": 1, "version": 1, "client": "x"}))
                await ws.recv()
                while done < n:
                    aid = str(1001 + done % 3)  # real identities, wrong secret
                    await ws.send(
                        json.dumps({"type": "sign_in", "id": done + 2, "agent_id": aid,
                                    "secret": f"wrong-{done}"})
                    )  # fmt: skip
                    done += 1
                    while True:
                        msg = json.loads(await ws.recv())
                        if msg.get("type") in ("ok", "error"):
                            res.signins[str(msg.get("code") or msg["type"])] += 1
                            break
        except ConnectionClosed as err:
            rc = err.rcvd
            res.signins[f"close {rc.code if rc else ''}"] += 1


async def silent(rig: Rig, n: int, res: HostileResult) -> None:
    """`n` websocket connections that never say hello."""

    async def one() -> None:
        try:
            async with connect(f"{rig.base}/agent", ping_interval=None) as ws:
                await asyncio.wait_for(ws.recv(), 30)
        except ConnectionClosed as err:
            rc = err.rcvd
            res.silent_closed[f"{rc.code if rc else '-'} {rc.reason if rc else ''}"] += 1
        except TimeoutError:
            res.silent_closed["still open"] += 1

    await asyncio.gather(*(one() for _ in range(n)))


async def half_open(rig: Rig, n: int, res: HostileResult) -> None:
    """Handshakes then silence (no pong), and TCP connections that never upgrade."""
    socks = [await _raw(rig, "/switch") for _ in range(n)]
    res.half_open = n
    import socket

    bare = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", rig.port))
        s.setblocking(False)
        bare.append(s)
    closed = await asyncio.gather(*(_closed(r, 20.0) for r, _ in socks))
    res.half_open_closed = sum(closed)
    loop = asyncio.get_running_loop()
    for s in bare:
        try:
            data = await asyncio.wait_for(loop.sock_recv(s, 4096), 15.0)
            res.no_upgrade_closed += data == b""
        except (TimeoutError, ConnectionError):
            pass
        s.close()
    for _, w in socks:
        w.close()


async def _drive(rig: Rig, agents: int, rate: float, a: argparse.Namespace) -> HostileResult:
    res = HostileResult()
    fleet = SimFleet(f"{rig.base}/agent", Behaviour(think=0.05, aht=1.0, acw=0.2), seed=2)
    await fleet.start(rig.credentials(agents)[3:])  # 1001-1003 are the brute-forced ids
    sw = SimSwitch(f"{rig.base}/switch", "pbx-1", SWITCH_TOKEN, caller=Caller(), seed=2)
    await sw.connect()
    stop = asyncio.Event()

    async def load() -> None:
        while not stop.is_set():
            await poisson(sw, rate, 1.0, CALLERS)

    async def sample() -> None:
        while not stop.is_set():
            res.rss_peak = max(res.rss_peak, rss_kib(rig.pid))
            res.fds_peak = max(res.fds_peak, open_fds(rig.pid))
            await asyncio.sleep(0.2)

    lt = asyncio.create_task(load())
    await asyncio.sleep(a.clean)
    before = list(fleet.stats.latencies)
    fleet.stats.latencies.clear()
    res.rss_before, res.fds_before = rss_kib(rig.pid), open_fds(rig.pid)
    st = asyncio.create_task(sample())
    nr = asyncio.create_task(never_reads(rig, a.never_read))
    await asyncio.gather(
        flood(rig, a.flood, res),
        wrong_secrets(rig, a.signins, res),
        silent(rig, a.silent, res),
        half_open(rig, a.half_open, res),
    )
    res.never_reads = await nr
    during = list(fleet.stats.latencies)
    # Everyone else: a signed-in agent's request is answered.
    agent = fleet.agents[0]
    try:
        await asyncio.wait_for(agent.client.snapshot(), 5.0)
        res.good_request_ok = True
    except Exception:  # reported, not raised
        res.good_request_ok = False
    stop.set()
    await asyncio.gather(lt, st)
    await sw.close()
    await fleet.stop()
    await asyncio.sleep(1.0)
    res.rss_after, res.fds_after = rss_kib(rig.pid), open_fds(rig.pid)
    res.offers_before, res.offers_during = len(before), len(during)
    res.p99_before = FleetStats(latencies=before).percentile(0.99)
    res.p99_during = FleetStats(latencies=during).percentile(0.99)
    res.alive = rig.proc is not None and rig.proc.poll() is None
    status, body = rig.http("/debug/state")
    res.connections_after = json.loads(body)["connections"] if status == 200 else -1
    return res


def run(folder: Path, args: argparse.Namespace) -> HostileResult:
    """Everything above against a fresh server in `folder`."""
    rig = Rig.write(folder, agents=args.agents + 3, hello=args.hello_timeout, server_extra=LIMITS)
    rig.start()
    try:
        return asyncio.run(_drive(rig, args.agents, args.rate, args))
    finally:
        rig.stop()


def parser() -> argparse.ArgumentParser:
    """The command line (the test uses the same defaults, smaller)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", type=int, default=10)
    p.add_argument("--rate", type=float, default=6.0)
    p.add_argument("--clean", type=float, default=5.0)
    p.add_argument("--signins", type=int, default=10_000)
    p.add_argument("--flood", type=int, default=10_000)
    p.add_argument("--silent", type=int, default=200)
    p.add_argument("--half-open", type=int, default=50)
    p.add_argument("--never-read", type=int, default=5000)
    p.add_argument("--hello-timeout", type=float, default=1.0)
    return p


def main() -> int:
    """Print the figures."""
    args = parser().parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = run(Path(tmp), args)
    print(f"never reads                {r.never_reads}")
    print(f"flood of {args.flood:<6}          {dict(r.flood)}; close {r.flood_close}")
    print(f"wrong sign-ins {args.signins:<6}    {dict(r.signins)}")
    print(f"never say hello            {dict(r.silent_closed)}")
    print(f"half-open (no pong)        {r.half_open_closed}/{r.half_open} closed")
    print(f"TCP, no upgrade            {r.no_upgrade_closed}/{args.half_open} closed")
    print(f"working agents' offers     before {r.offers_before}, during {r.offers_during}")
    print(f"offer latency p99          before {r.p99_before:.2f} ms, during {r.p99_during:.2f} ms")
    print(f"a signed-in agent answered {r.good_request_ok}")
    print(
        f"server RSS KiB             before {r.rss_before}, peak {r.rss_peak}, after {r.rss_after}"
    )
    print(
        f"server open fds            before {r.fds_before}, peak {r.fds_peak}, after {r.fds_after}"
    )
    print(f"server alive, connections  {r.alive}, {r.connections_after}")
    return 0 if r.alive and r.good_request_ok else 1


if __name__ == "__main__":
    sys.exit(main())
