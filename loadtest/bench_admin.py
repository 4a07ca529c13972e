"""The wallboard feed under load: supervisors subscribed while agents take calls.

One server process (the real App with every component of `acd serve`: the journal writing to
a temporary folder, metrics, switch link, agent gateway and admin socket; `--admin-only` for
the admin component alone) on 127.0.0.1 hosts a center of
`--agents` agents in 10 groups and 50 teams; a driver inside it feeds the core Poisson
arrivals at `--rate` calls/s, accepts each offer after 0.2 s, hangs up after an exponential
talk time (mean 12 s) and lets timed wrap-up (3 s) return the agent. A second process holds
`--supervisors` real websocket clients (2 of them admins seeing every agent, the rest
supervisors of one team and one group), subscribed to the wallboard.

Printed figures (measured over `--seconds` after a warm-up):
- updates per second per subscriber (the feed's bound is 2);
- the server's CPU (process time / wall time) and the share of it spent in the feed
  (recording changes, recomputing rows, encoding and queueing frames), plus the feed's CPU
  per flush and per frame;
- lag from a change in the core to the frame at the supervisor: for every agent row in a
  delta, receive time minus the row's `since` (the moment of the state change), p50/p99/max;
  and the delivery latency of a flush (receive time minus the flush's `at`).

Run: `python -m loadtest.bench_admin` (defaults: 5,000 agents, 200 calls/s, 50 supervisors).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from types import MappingProxyType
from typing import Any

from acd import events as ev
from acd.app import App
from acd.errors import AcdError
from acd.model import AgentConfig, CenterConfig, Priorities, SkillGroup, Team, WrapUp, WrapUpMode
from acd.settings import ServerSettings, Settings
from agent_gateway.auth import Credentials, Staff, hash_secret

GROUPS = 10
TEAMS = 50
ADMINS = 2


def build(agents: int, supervisors: int) -> Settings:
    """The benchmark center, staff and credentials (cheap hashes: sign-in is not measured)."""
    groups = {
        f"g{i}": SkillGroup(
            id=f"g{i}", name=f"G{i}", skill=f"s{i}", ring_timeout=60,
            wrap_up=WrapUp(WrapUpMode.TIMED, 3.0),
        )
        for i in range(GROUPS)
    }  # fmt: skip
    acfg = {
        f"a{i}": AgentConfig(
            id=f"a{i}", number=str(10000 + i), team=f"t{i % TEAMS}",
            skills=MappingProxyType({f"s{i % GROUPS}": 5}),
        )
        for i in range(agents)
    }  # fmt: skip
    teams = {f"t{i}": Team(f"t{i}") for i in range(TEAMS)}
    cfg = CenterConfig(
        groups=MappingProxyType(groups),
        agents=MappingProxyType(acfg),
        teams=MappingProxyType(teams),
        priorities=Priorities(),
    )
    secret = hash_secret("bench-secret", log_n=4)
    staff = {}
    for j in range(supervisors):
        sid = f"s{j}"
        if j < ADMINS:
            staff[sid] = Staff(sid, "admin", secret)
        else:
            staff[sid] = Staff(
                sid, "supervisor", secret, teams=frozenset({f"t{j % TEAMS}"}),
                groups=frozenset({f"g{j % GROUPS}"}),
            )  # fmt: skip
    server = ServerSettings(send_queue_frames=10_000, rate_per_second=1000, rate_burst=1000)
    creds = Credentials(staff=MappingProxyType(staff))
    return Settings(cfg, {"server": server, "credentials": creds})


# ------------------------------------------------------------------------------ supervisors


async def _supervisor(url: str, user: str, until: float, start: float, out: dict[str, Any]) -> None:
    from agent_gateway.admin_client import AdminClient

    client = await AdminClient.connect(url, user, "bench-secret")
    await client.request("subscribe")
    lags: list[float] = []
    delivery: list[float] = []
    deltas = 0
    rows = 0
    while time.time() < until:
        try:
            push = await client.next_push(timeout=max(0.05, until - time.time()))
        except TimeoutError:
            break
        now = time.time()
        if push["type"] != "wallboard_delta" or now < start:
            continue
        deltas += 1
        delivery.append(now - push["at"])
        for row in push["agents"].values():
            rows += 1
            if row["since"] is not None and row["since"] >= start - 1:
                lags.append(now - row["since"])
    await client.close()
    out[user] = {"deltas": deltas, "rows": rows, "lags": lags, "delivery": delivery}


def _clients(url: str, users: list[str], start: float, until: float, q: Any) -> None:
    async def main() -> dict[str, Any]:
        out: dict[str, Any] = {}
        await asyncio.gather(*(_supervisor(url, u, until, start, out) for u in users))
        return out

    q.put(asyncio.run(main()))


# ------------------------------------------------------------------------------ the load


class Driver:
    """Callers and agents acting on the core directly (offers accepted, calls ended)."""

    def __init__(self, app: App, rate: float, seed: int) -> None:
        self.app = app
        self.rate = rate
        self.rng = random.Random(seed)
        self.n = 0
        self.answered = 0
        app.core.subscribe(self._sink)

    def _sink(self, outs: Any) -> None:
        loop = asyncio.get_running_loop()
        for o in outs:
            if isinstance(o, ev.CallOffered):
                loop.call_later(0.2, self._answer, o.call_id, o.agent_id)

    def _submit(self, event: ev.Event) -> None:
        # A race the load does not care about (the call is gone already) is refused: fine.
        with contextlib.suppress(AcdError):
            self.app.core.submit(event)

    def _answer(self, call_id: str, agent_id: str) -> None:
        self._submit(ev.AcceptOffer(agent_id, call_id))
        self._submit(ev.AgentLegAnswered(call_id, agent_id))
        self.answered += 1
        talk = self.rng.expovariate(1 / 12.0)
        asyncio.get_running_loop().call_later(talk, self._submit, ev.CallerHangup(call_id))

    async def run(self, until: float) -> None:
        for aid in self.app.engine.agents:
            self._submit(ev.AgentLogin(aid))
            self._submit(ev.AgentReady(aid))
        t = time.time()
        while t < until:
            t += self.rng.expovariate(self.rate)
            delay = t - time.time()
            if delay > 0.002:
                await asyncio.sleep(delay)
            self.n += 1
            g = f"g{self.rng.randrange(GROUPS)}"
            self._submit(ev.EnqueueCall(ev.CallInfo(f"c{self.n}"), g))


def _pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


async def bench(
    agents: int,
    rate: float,
    supervisors: int,
    seconds: float,
    warm: float,
    admin_only: bool = False,
) -> dict[str, Any]:
    """Run one measurement; the figures as a dict."""
    from acd.gc_tuning import tune_gc

    with TemporaryDirectory() as tmp:
        only = ["agent_gateway.admin:component"] if admin_only else None
        app = App(build(agents, supervisors), port=0, data_dir=Path(tmp), components=only)
        await app.start()
        tune_gc()
        feed = app.components["admin"].feed  # type: ignore[attr-defined]
        url = f"ws://127.0.0.1:{app.web.port}/admin"
        t0 = time.time()
        start, until = t0 + warm, t0 + warm + seconds
        q: Any = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(
            target=_clients, args=(url, [f"s{j}" for j in range(supervisors)], start, until, q)
        )
        proc.start()
        driver = Driver(app, rate, seed=7)
        load = asyncio.create_task(driver.run(until + 1))
        await asyncio.sleep(max(0.0, start - time.time()))
        cpu0, feed0, frames0, flush0, calls0 = (
            time.process_time(), feed.cpu_seconds, feed.frames, feed.core.flushes, driver.n
        )  # fmt: skip
        w0 = time.time()
        await asyncio.sleep(max(0.0, until - time.time()))
        wall = time.time() - w0
        cpu = time.process_time() - cpu0
        feed_cpu = feed.cpu_seconds - feed0
        frames, flushes = feed.frames - frames0, feed.core.flushes - flush0
        calls = driver.n - calls0
        subscribed = feed.subscribers
        results = await asyncio.to_thread(q.get, True, 120)
        await load
        proc.join(10)
        await app.stop()
    lags = [x for r in results.values() for x in r["lags"]]
    delivery = [x for r in results.values() for x in r["delivery"]]
    per_sub = [r["deltas"] / seconds for r in results.values()]
    return {
        "components": "admin" if admin_only else "all",
        "agents": agents,
        "calls_per_second": round(calls / wall, 1),
        "supervisors": supervisors,
        "subscribed": subscribed,
        "seconds": seconds,
        "updates_per_second_per_subscriber_mean": round(statistics.mean(per_sub), 2),
        "updates_per_second_per_subscriber_max": round(max(per_sub), 2),
        "rows_per_update_mean": round(
            sum(r["rows"] for r in results.values())
            / max(1, sum(r["deltas"] for r in results.values())),
            1,
        ),
        "server_cpu_share": round(cpu / wall, 3),
        "feed_cpu_share_of_server": round(feed_cpu / cpu, 3) if cpu else None,
        "feed_cpu_ms_per_flush": round(1000 * feed_cpu / max(1, flushes), 2),
        "feed_cpu_us_per_frame": round(1e6 * feed_cpu / max(1, frames), 1),
        "lag_change_to_frame_p50_ms": round(1000 * _pct(lags, 0.5), 1),
        "lag_change_to_frame_p99_ms": round(1000 * _pct(lags, 0.99), 1),
        "lag_change_to_frame_max_ms": round(1000 * max(lags), 1) if lags else None,
        "delivery_flush_to_frame_p50_ms": round(1000 * _pct(delivery, 0.5), 1),
        "delivery_flush_to_frame_p99_ms": round(1000 * _pct(delivery, 0.99), 1),
    }


def main() -> None:
    """Command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--agents", type=int, default=5000)
    p.add_argument("--rate", type=float, default=200.0, help="calls per second")
    p.add_argument("--supervisors", type=int, default=50)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--warm", type=float, default=8.0, help="seconds before measuring")
    p.add_argument("--admin-only", action="store_true", help="run the admin component alone")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    figures = asyncio.run(bench(a.agents, a.rate, a.supervisors, a.seconds, a.warm, a.admin_only))
    if a.json:
        print(json.dumps(figures))
        return
    for k, v in figures.items():
        print(f"{k:42} {v}")


if __name__ == "__main__":
    main()
