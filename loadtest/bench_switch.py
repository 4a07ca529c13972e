"""Benchmark of the switch link: calls a second through IVR, queue and agent, end to end.

    python -m loadtest.bench_switch [--rate 500] [--duration 10] [--agents 400]

Starts a server in a child process (127.0.0.1, a generated center: one group, N agents
who accept every offer at once, a two-node IVR: a prompt then a menu), drives it with the
simulated switch at a Poisson rate, and prints: calls a second sustained (completed calls /
duration), the switch's request round trip (request -> reply) p50 / p99, and the server's
CPU time per completed call (read from /proc for the child only).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent_gateway.auth import hash_secret

TOKEN = "bench-token"

CENTER = """
[center]
name = "switch bench"
[groups.general]
name = "General"
skill = "mass"
wrap_up = {{ mode = "none" }}
announce_period = 30
[[agent_blocks]]
first = 1000
count = {agents}
skills = {{ mass = 5 }}
[server]
rate_per_second = 100000
rate_burst = 100000
[switch]
ack_timeout = 5
rate_per_second = 100000
rate_burst = 100000
[switch.switches.bench]
token = "{token}"
[prompts]
welcome = "Welcome"
menu = "Press 0"
music = "music"
callback-offer = "Press 1 for a callback"
callback-confirmed = "We will call you back"
voicemail-record = "Leave a message"
blocked = "This number is blocked"
[ivr]
default_flow = "main"
[ivr.treatment]
music = "music"
[ivr.flows.main]
start = "welcome"
[ivr.flows.main.nodes.welcome]
kind = "play"
prompt = "welcome"
next = "menu"
[ivr.flows.main.nodes.menu]
kind = "menu"
prompt = "menu"
choices = {{ "0" = "queue" }}
on_fail = "queue"
[ivr.flows.main.nodes.queue]
kind = "queue"
group = "general"
"""


def serve(config: str, port: int, agents: int) -> None:
    """The child: a server whose agents sign in, go ready and accept every offer."""
    from acd import events as ev
    from acd.app import App
    from acd.settings import load_settings

    async def main() -> None:
        app = App(
            load_settings(config),
            port=port,
            data_dir=tempfile.mkdtemp(dir=Path(config).parent),  # removed with its folder
            components=["ivr.link:switch_link"],
        )
        loop = asyncio.get_running_loop()

        def accept(outs: Any) -> None:
            for o in outs:
                if type(o) is ev.CallOffered:
                    loop.call_soon(app.core.submit, ev.AcceptOffer(o.agent_id, o.call_id))

        app.core.subscribe(accept)
        await app.start()
        for i in range(agents):
            app.core.submit(ev.AgentLogin(str(1000 + i)))
            app.core.submit(ev.AgentReady(str(1000 + i)))
        print("ready", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(port: int, rate: float, duration: float, talk: float) -> dict[str, float]:
    """Run the load; return the figures."""
    from loadtest.sim_switch import Caller, SimSwitch, poisson

    sw = SimSwitch(
        f"ws://127.0.0.1:{port}/switch",
        "bench",
        TOKEN,
        caller=Caller(keys={"menu": "0"}, talk=talk),
        seed=1,
    )
    await sw.connect()
    callers = [f"139{i:08d}" for i in range(1000)]
    t0 = time.perf_counter()
    n = await poisson(sw, rate, duration, callers)
    elapsed = time.perf_counter() - t0
    deadline = time.perf_counter() + 10
    while sw.calls and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    done = sum(1 for c in sw.ended.values() if c.end_reason == "caller" and c.answered_at)
    rtts = sorted(sw.rtts)
    await sw.close()
    return {
        "offered": n,
        "completed": done,
        "seconds": elapsed,
        "p50_ms": 1000 * rtts[len(rtts) // 2] if rtts else float("nan"),
        "p99_ms": 1000 * rtts[int(len(rtts) * 0.99)] if rtts else float("nan"),
        "errors": len(sw.errors),
        "requests": len(rtts),
        "mean_ms": 1000 * statistics.fmean(rtts) if rtts else float("nan"),
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=float, default=500.0)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--agents", type=int, default=400)
    p.add_argument("--talk", type=float, default=0.2, help="mean talk seconds")
    p.add_argument("--port", type=int, default=8799)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.agents)
        return
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bench.toml"
        config.write_text(CENTER.format(agents=args.agents, token=hash_secret(TOKEN, log_n=10)))
        child = subprocess.Popen(
            [sys.executable, "-m", "loadtest.bench_switch", "--serve", str(config),
             "--port", str(args.port), "--agents", str(args.agents)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise SystemExit("the server did not start")
            cpu0 = cpu_seconds(child.pid)
            r = asyncio.run(drive(args.port, args.rate, args.duration, args.talk))
            cpu = cpu_seconds(child.pid) - cpu0
        finally:
            child.terminate()
            child.wait(10)
    done = r["completed"]
    print(f"offered {r['offered']:.0f} calls at {args.rate:g}/s for {r['seconds']:.1f} s")
    print(f"calls/s sustained         {done / r['seconds']:8.1f}  ({done:.0f} completed)")
    print(f"request round trip p50    {r['p50_ms']:8.2f} ms")
    print(f"request round trip p99    {r['p99_ms']:8.2f} ms  ({r['requests']:.0f} requests)")
    print(f"server CPU per call       {1000 * cpu / max(done, 1):8.3f} ms")
    print(f"errors                    {r['errors']:8.0f}")


if __name__ == "__main__":
    main()
