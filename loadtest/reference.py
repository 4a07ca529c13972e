"""Bare references the performance report sets our figures beside, measured in the same run.

- `frame_cost`: server CPU per websocket frame of a bare echo server (websockets on uvloop,
  compression off, like ours) run flat out: what a frame costs before any product code runs,
  when every wake-up of its loop finds many frames to share it (the floor);
- `paced_frame_cost`: the same echo holding as many connections as a live run, fed frames at
  the live run's rate in Poisson arrivals: what a frame costs at that pace, where most wake-ups
  find one frame (what the product server pays too);
- `connection_memory`: resident memory per idle bare websocket connection.

Each runs the bare server in a child process (`python -m loadtest.reference serve`) so its CPU
time and RSS are its own, read from /proc like the product server's (`ProcStat`).
Run `python -m loadtest.reference` to print all three.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class ProcStat:
    """CPU seconds (user + system) and resident bytes of a process, from /proc."""

    cpu: float
    rss: int

    @staticmethod
    def of(pid: int) -> ProcStat:
        """Read a process's figures now (Linux)."""
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        with open(f"/proc/{pid}/statm", encoding="ascii") as f:
            rss = int(f.read().split()[1]) * _PAGE
        return ProcStat(cpu, rss)

    @staticmethod
    def threads(pid: int) -> dict[int, float]:
        """CPU seconds of each thread of a process, by thread id (Linux)."""
        out: dict[int, float] = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended meanwhile
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICKS
        return out


async def _echo(ws: ServerConnection) -> None:
    with contextlib.suppress(Exception):
        async for message in ws:
            await ws.send(message)


async def _serve(port: int) -> None:
    async with serve(_echo, "127.0.0.1", port, compression=None, ping_interval=None) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()


def _run_loop(coro: object) -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)  # type: ignore[arg-type]
    else:
        uvloop.run(coro)  # type: ignore[arg-type]


class BareServer:
    """A bare echo server in a child process (context manager)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> BareServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loadtest.reference", "serve"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        return self

    def stat(self) -> ProcStat:
        """The child's CPU and memory now."""
        assert self.proc is not None
        return ProcStat.of(self.proc.pid)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


async def _frames(port: int, clients: int, frames: int, size: int) -> None:
    payload = b"x" * size

    async def one() -> None:
        async with connect(f"ws://127.0.0.1:{port}", compression=None) as ws:
            for _ in range(frames):
                await ws.send(payload)
                await ws.recv()

    await asyncio.gather(*(one() for _ in range(clients)))


def frame_cost(frames: int = 20_000, clients: int = 20, size: int = 120) -> float:
    """Bare server CPU seconds per frame handled (one frame in, one frame out = 2 frames)."""
    with BareServer() as server:
        _run_loop(_frames(server.port, clients, 50, size))  # warm up
        before = server.stat().cpu
        _run_loop(_frames(server.port, clients, frames // clients // 2, size))
        used = server.stat().cpu - before
    return used / frames


def paced_frame_cost(
    connections: int = 1000,
    frames_per_second: float = 5000.0,
    seconds: float = 10.0,
    size: int = 120,
    seed: int = 7,
) -> float:
    """Bare server CPU seconds per frame at a pace: `frames_per_second` (in and out counted, so
    half of them sent) in Poisson arrivals over `connections` idle-opened connections."""
    result: list[float] = []
    with BareServer() as server:

        async def run() -> None:
            conns: list[ClientConnection] = []
            for _ in range(0, connections, 100):  # open them (not counted) a hundred at a time
                batch = min(100, connections - len(conns))
                conns += await asyncio.gather(*(_open(server.port) for _ in range(batch)))
            echoed = [0]

            async def read(ws: ClientConnection) -> None:
                with contextlib.suppress(Exception):
                    async for _ in ws:
                        echoed[0] += 1

            readers = [asyncio.create_task(read(ws)) for ws in conns]
            await asyncio.sleep(0.5)  # the handshakes' work settles
            rng = random.Random(seed)
            payload = b"x" * size
            loop = asyncio.get_running_loop()
            before = server.stat().cpu
            at = loop.time()
            end = at + seconds
            sent = 0
            while True:
                at += rng.expovariate(frames_per_second / 2)
                if at >= end:
                    break
                ahead = at - loop.time()
                if ahead > 0.001:  # sleeping less than a millisecond costs more than it gives
                    await asyncio.sleep(ahead)
                await rng.choice(conns).send(payload)
                sent += 1
            deadline = loop.time() + 30.0
            while echoed[0] < sent and loop.time() < deadline:
                await asyncio.sleep(0.01)
            if echoed[0] < sent:
                raise RuntimeError(f"the bare echo returned {echoed[0]} of {sent} frames")
            result.append((server.stat().cpu - before) / (2 * sent))
            for task in readers:
                task.cancel()
            await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)

        _run_loop(run())
    return result[0]


async def _open(port: int) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{port}", compression=None, ping_interval=None)


def connection_memory(n: int = 2000) -> float:
    """Bare server resident bytes per idle websocket connection (RSS delta / n)."""
    with BareServer() as server:
        result: list[float] = []

        async def run() -> None:
            await asyncio.sleep(0.2)
            before = server.stat().rss
            conns = [
                await connect(f"ws://127.0.0.1:{server.port}", compression=None) for _ in range(n)
            ]  # each handshake done: the server holds the connection
            await asyncio.sleep(0.5)
            result.append((server.stat().rss - before) / n)
            await asyncio.gather(*(ws.close() for ws in conns))

        _run_loop(run())
    return result[0]


def main(argv: list[str] | None = None) -> int:
    """Print the bare references (or serve the bare echo server: `serve`)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", nargs="?", default="all", choices=("all", "serve"))
    p.add_argument("--frames", type=int, default=20_000)
    p.add_argument("--connections", type=int, default=2000)
    p.add_argument("--rate", type=float, default=5000.0, help="paced frames per second")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if args.what == "serve":
        _run_loop(_serve(0))
        return 0
    cost = frame_cost(args.frames)
    paced = paced_frame_cost(args.connections, args.rate)
    mem = connection_memory(args.connections)
    figures = {
        "frame_cpu_us": cost * 1e6,
        "paced_frame_cpu_us": paced * 1e6,
        "connection_bytes": mem,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"bare echo server: {cost * 1e6:.1f} µs CPU per frame flat out")
        print(
            f"bare echo server: {paced * 1e6:.1f} µs CPU per frame at {args.rate:.0f} frames/s"
            f" over {args.connections} connections"
        )
        print(f"bare idle websocket connection: {mem / 1024:.1f} KiB resident")
    return 0


if __name__ == "__main__":
    sys.exit(main())
