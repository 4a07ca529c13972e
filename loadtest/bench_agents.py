"""Agent gateway benchmark: memory per signed-in agent and offer push latency.

For 1,000 and 5,000 signed-in agents, in one run:
- server memory per agent (RSS growth of the server process / agents), beside a bare
  websockets server (same settings, compression off) holding as many idle connections;
- offer push latency p50/p99 from the core's decision to the frame arriving at the agent
  (and, inside the server, to the frame written to the socket) while calls arrive at
  `--rate` calls/s, beside a bare websocket echo round trip under the same connection count.

The server runs in a subprocess (`serve`), the agents in this process through
`loadtest.sim_agents`. The server has no switch link here: a small fixture inside the server
process plays the switch (connects agent legs on ConnectAgent, ends them on DropLeg). Sign-ins
use secrets hashed with a low scrypt cost, generated for the run.

    python -m loadtest.bench_agents [--agents 1000 5000] [--rate 200] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog
import websockets

from acd import events as ev
from acd.gc_tuning import tune_gc
from agent_gateway.auth import hash_secret
from loadtest.sim_agents import Behaviour, SimFleet

FIRST = 100000
SECRET = "bench"


def write_config(folder: Path, agents: int) -> Path:
    """A one-group center of `agents` agents with a cheap shared secret hash."""
    digest = hash_secret(SECRET, log_n=2)
    path = folder / "bench.toml"
    path.write_text(
        f"""
[center]
name = "bench"

[groups.g]
name = "G"
skill = "g"
ring_timeout = 30
wrap_up = {{ mode = "none" }}
expected_aht = 2

[[agent_blocks]]
first = {FIRST}
count = {agents}
skills = {{ g = 5 }}

[server]
max_connections = {agents + 1000}
rate_per_second = 1000
rate_burst = 1000

[agent_gateway]
stats_interval = 0
"""
        + "\n[credentials.agents]\n"
        + "".join(f'"{FIRST + i}" = "{digest}"\n' for i in range(agents)),
        encoding="utf-8",
    )
    return path


def rss_kib(pid: int) -> int:
    """Resident memory of a process, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs: Sequence[float], q: float) -> float:
    """q-quantile in milliseconds."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    return 1000.0 * s[min(len(s) - 1, int(q * len(s)))]


# ------------------------------------------------------------------------ server side


class BenchSwitch:
    """Plays the switch for the benchmark: legs connect at once and end when asked."""

    name = "bench-switch"

    def __init__(self, app: Any) -> None:
        self.app = app

    async def start(self, app: Any) -> None:
        app.core.subscribe(self.deliver)

    async def stop(self, app: Any) -> None:
        return None

    def deliver(self, outputs: Sequence[ev.Output]) -> None:
        loop = asyncio.get_running_loop()
        for o in outputs:
            if type(o) is ev.ConnectAgent:
                loop.call_soon(self._submit, ev.AgentLegAnswered(o.call_id, o.agent_id))
            elif type(o) is ev.DropLeg:
                loop.call_soon(self._submit, ev.AgentLegEnded(o.call_id, o.party))

    def _submit(self, event: ev.Event) -> None:
        with contextlib.suppress(Exception):
            self.app.core.submit(event)


class LatencyProbe:
    """Collects the gateway's own offer latency (decision → frame written)."""

    name = "metrics"

    def __init__(self) -> None:
        self.offers: list[float] = []
        self.errors = 0

    async def start(self, app: Any) -> None:
        return None

    async def stop(self, app: Any) -> None:
        return None

    def offer_latency(self, seconds: float) -> None:
        self.offers.append(seconds)

    def protocol_error(self, side: str, code: str) -> None:
        self.errors += 1


async def serve(config: str) -> None:
    """The server subprocess: prints its port, then obeys `calls RATE SECONDS`, `stats`."""
    from acd.app import App
    from acd.settings import load_settings

    structlog.configure(  # stdout carries the replies to the driver; logs to stderr
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
    )
    settings = load_settings(config)
    data_dir = tempfile.mkdtemp(dir=Path(config).parent)  # removed with the config's folder
    app = App(settings, port=0, data_dir=data_dir, components=[])
    probe = LatencyProbe()
    app.components["metrics"] = probe
    await app.start()
    gw_factory = __import__("agent_gateway.server", fromlist=["component"]).component
    gw = gw_factory(app)
    await gw.start(app)
    app.components["agents"] = gw
    sw = BenchSwitch(app)
    await sw.start(app)
    gc.collect()
    print(f"port {app.web.port}", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    n = 0
    while line := (await reader.readline()).decode().split():
        if line[0] == "calls":
            rate, seconds = float(line[1]), float(line[2])
            probe.offers.clear()
            start = loop.time()
            for i in range(int(rate * seconds)):
                at = start + i / rate
                await asyncio.sleep(max(0.0, at - loop.time()))
                n += 1
                app.core.submit(ev.EnqueueCall(ev.CallInfo(f"k{n}", caller="13800000000"), "g"))
            await asyncio.sleep(1.0)
            print("done", flush=True)
        elif line[0] == "stats":
            print(
                json.dumps(
                    {
                        "server_p50_ms": pct(probe.offers, 0.5),
                        "server_p99_ms": pct(probe.offers, 0.99),
                        "offers": len(probe.offers),
                        "signed_in": len(gw.signed_in()),
                    }
                ),
                flush=True,
            )
    await app.stop()


async def echo_server() -> None:
    """A bare websockets server with the same transport settings: echoes every frame."""

    async def handler(ws: Any) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in ws:
                await ws.send(frame)

    async with websockets.serve(
        handler, "127.0.0.1", 0, compression=None, max_queue=64, max_size=65536
    ) as server:
        gc.collect()
        print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


# ------------------------------------------------------------------------ driver side


class Proc:
    """A benchmark subprocess speaking lines on stdin / stdout."""

    def __init__(self, *args: str) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "loadtest.bench_agents", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.p.stdout is not None
        first = self.p.stdout.readline().split()
        self.port = int(first[1])

    def ask(self, line: str) -> str:
        assert self.p.stdin is not None and self.p.stdout is not None
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def rss(self) -> int:
        return rss_kib(self.p.pid)

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        try:
            self.p.wait(20)
        except subprocess.TimeoutExpired:
            self.p.kill()


async def measure_gateway(n: int, rate: float, seconds: float, folder: Path) -> dict[str, float]:
    cfg = write_config(folder, n)
    proc = await asyncio.to_thread(Proc, "serve", str(cfg))
    try:
        await asyncio.sleep(0.5)
        before = proc.rss()
        fleet = SimFleet(
            f"ws://127.0.0.1:{proc.port}/agent", Behaviour(think=0.0, aht=1.0, acw=0.0)
        )
        t0 = time.perf_counter()
        await fleet.start([(str(FIRST + i), SECRET) for i in range(n)], concurrency=200)
        signin_s = time.perf_counter() - t0
        tune_gc()  # the desktops' process: thousands of long-lived connections
        await asyncio.sleep(1.0)
        after = proc.rss()
        fleet.stats.latencies.clear()
        cpu0, own0 = cpu_seconds(proc.p.pid), time.process_time()
        await asyncio.to_thread(proc.ask, f"calls {rate} {seconds}")
        cpu = cpu_seconds(proc.p.pid) - cpu0
        own = time.process_time() - own0
        server = json.loads(await asyncio.to_thread(proc.ask, "stats"))
        stats = fleet.stats
        await fleet.stop()
        return {
            "agents": n,
            "sign_in_seconds": round(signin_s, 2),
            "server_kib_per_agent": round((after - before) / n, 2),
            "offers": len(stats.latencies),
            "agent_p50_ms": round(stats.percentile(0.5), 3),
            "agent_p99_ms": round(stats.percentile(0.99), 3),
            "server_p50_ms": round(server["server_p50_ms"], 3),
            "server_p99_ms": round(server["server_p99_ms"], 3),
            "errors": json.dumps(stats.errors),
            "server_cpu_us_per_call": round(1e6 * cpu / (rate * seconds), 1),
            "desktops_cpu_us_per_call": round(1e6 * own / (rate * seconds), 1),
        }
    finally:
        await asyncio.to_thread(proc.close)


async def measure_bare(n: int, rounds: int) -> dict[str, float]:
    proc = await asyncio.to_thread(Proc, "echo")
    try:
        await asyncio.sleep(0.5)
        before = proc.rss()
        url = f"ws://127.0.0.1:{proc.port}"
        gate = asyncio.Semaphore(200)

        async def one() -> Any:
            async with gate:
                return await websockets.connect(url, compression=None, ping_interval=None)

        conns = await asyncio.gather(*(one() for _ in range(n)))
        await asyncio.sleep(1.0)
        after = proc.rss()
        rtts = []
        ws = conns[0]
        for _ in range(rounds):
            t = time.perf_counter()
            await ws.send(b"x" * 300)
            await ws.recv()
            rtts.append(time.perf_counter() - t)
        await asyncio.gather(*(c.close() for c in conns), return_exceptions=True)
        return {
            "bare_kib_per_conn": round((after - before) / n, 2),
            "echo_rtt_p50_ms": round(pct(rtts, 0.5), 3),
            "echo_rtt_p99_ms": round(pct(rtts, 0.99), 3),
        }
    finally:
        await asyncio.to_thread(proc.close)


async def drive(args: argparse.Namespace) -> list[dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.agents:
            row = await measure_gateway(n, args.rate, args.seconds, Path(tmp))
            row.update(await measure_bare(n, 2000))
            row["memory_ratio"] = round(row["server_kib_per_agent"] / row["bare_kib_per_conn"], 2)
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print one JSON line per agent count, then a table."""
    p = argparse.ArgumentParser(prog="bench_agents")
    sub = p.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("config")
    sub.add_parser("echo")
    p.add_argument("--agents", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--rate", type=float, default=200.0, help="calls per second")
    p.add_argument("--seconds", type=float, default=10.0)
    args = p.parse_args(argv)
    if args.cmd == "serve":
        _run(serve(args.config))
        return 0
    if args.cmd == "echo":
        _run(echo_server())
        return 0
    rows = _run(drive(args))
    print()
    print("agents  server KiB/agent  bare KiB/conn  ratio  offer p50/p99 ms (agent)  "
          "(in socket)     echo RTT p50/p99 ms")  # fmt: skip
    for r in rows:
        print(
            f"{r['agents']:>6}  {r['server_kib_per_agent']:>16}  {r['bare_kib_per_conn']:>13}  "
            f"{r['memory_ratio']:>5}  {r['agent_p50_ms']:>10} / {r['agent_p99_ms']:<10}  "
            f"{r['server_p50_ms']} / {r['server_p99_ms']}  "
            f"{r['echo_rtt_p50_ms']} / {r['echo_rtt_p99_ms']}"
        )
    return 0


def _run(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
