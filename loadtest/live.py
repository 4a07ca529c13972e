"""Live load test: the simulated switch and N simulated desktops against a real server.

The scenario is the one `--mode sim` runs (`acd.sim.Scenario`), played over real websockets:
`loadtest.sim_switch.SimSwitch` originates Poisson arrivals on `/switch` (callers with an
exponential patience), `loadtest.sim_agents.SimFleet` signs N agents in on `/agent` and works
the offers (think time, handle time, after-call work, misses, breaks). The figures are the
caller's and the desktop's: a call's wait is from `arrived` to the agent leg being connected
at the switch.

`time_scale` K compresses simulated time: arrivals come K times faster and every duration is
divided by K; the figures are scaled back to simulated seconds (latencies and CPU stay real).

Use it as a library:

    from acd.sim import Scenario
    from loadtest.live import run_live
    result = run_live(Scenario(agents=20, rate=0.1, aht=60, duration=600), time_scale=50)

`run_live` spawns `acd serve` (a child process on a free 127.0.0.1 port, a temporary data
folder and a generated one-group center) unless `server="ws://HOST:PORT"` is given;
`live_run` is the same coroutine for callers already inside an event loop, and
`SpawnedServer` starts a server on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from acd.sim import Scenario
from agent_gateway import messages as m
from loadtest.lean_agents import LeanAgent
from loadtest.reference import ProcStat
from loadtest.sim_agents import Behaviour, Desk, SimAgent, SimFleet
from loadtest.sim_switch import Caller, SimCall, SimSwitch

SWITCH_ID = "loadtest"
GROUP = "default"
FIRST_AGENT = 1000
ENV_TOKEN = "ACD_LOADTEST_SWITCH_TOKEN"
ENV_SECRET = "ACD_LOADTEST_AGENT_SECRET"
_BUSY = frozenset({"reserved", "on_call", "wrap_up"})
_STAFFED = _BUSY | {"ready"}

Result = dict[str, Any]


# ------------------------------------------------------------------ the spawned server


def generated_config(
    sc: Scenario, time_scale: float, token: str, secret: str, folder: Path
) -> Path:
    """One FIFO group `default` served by every agent, no IVR menu (calls queue at once), a
    switch `loadtest` and agents FIRST_AGENT.. with low-cost hashes (a test center only).

    With a brand mix, a directory maps the simulated caller numbers to brands and a one-node
    lookup puts the brand on each call before it queues."""
    from agent_gateway.auth import hash_secret

    k = time_scale
    digest = hash_secret(secret, log_n=2)
    wrap = '{ mode = "timed", seconds = 86400 }' if sc.acw > 0 else '{ mode = "none" }'
    lines = [
        "[center]",
        'name = "load test"',
        f"sl_threshold = {sc.sl_threshold / k!r}",
        "",
        f"[groups.{GROUP}]",
        'name = "Default"',
        f'skill = "{GROUP}"',
        f"target = {{ ratio = 0.8, seconds = {sc.sl_threshold / k!r} }}",
        f"ring_timeout = {max(0.2, 15.0 / k)!r}",
        f"wrap_up = {wrap}",
        "ageing_rate = 0",
        f"reject_delay = {5.0 / k!r}",
        "max_misses = 1000000",
        f"expected_aht = {max(0.001, sc.aht / k)!r}",
        "",
        "[reasons]",
        'break = "Short break"',
        "",
        "[[agent_blocks]]",
        f"first = {FIRST_AGENT}",
        f"count = {sc.agents}",
        f"skills = {{ {GROUP} = 5 }}",
        "",
        "[server]",
        f"max_connections = {sc.agents + 100}",
        "rate_per_second = 100000",
        "rate_burst = 100000",
        "",
        "[switch]",
        "rate_per_second = 100000",
        "rate_burst = 100000",
        f"[switch.switches.{SWITCH_ID}]",
        f'token = "{hash_secret(token, log_n=2)}"',
        "",
        "[agent_gateway]",
        "stats_interval = 0",
        "",
    ]
    if sc.brand_mix:
        (folder / "customers.csv").write_text(_directory(sc), encoding="utf-8")
        lines += [
            "[ivr]",
            'default_flow = "main"',
            'directory = "customers.csv"',
            "[ivr.flows.main]",
            'start = "lookup"',
            "[ivr.flows.main.nodes.lookup]",
            'kind = "lookup"',
            'next = "queue"',
            "[ivr.flows.main.nodes.queue]",
            'kind = "queue"',
            f'group = "{GROUP}"',
            "",
        ]
    lines.append("[credentials.agents]")
    lines += [f'"{FIRST_AGENT + i}" = "{digest}"' for i in range(sc.agents)]
    path = folder / "center.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


CALLERS = 1000  # simulated caller numbers (the directory's, with a brand mix)
POPULATION = 10_000_000  # simulated caller numbers without one


def caller_number(i: int) -> str:
    """The i-th simulated caller number."""
    return f"139{i:08d}"


def _directory(sc: Scenario) -> str:
    """Caller numbers split among the brands in the mix's proportions."""
    total = sum(sc.brand_mix.values()) or 1.0
    rows = ["number,name,brand,vip,city"]
    edges, acc = [], 0.0
    for brand, w in sc.brand_mix.items():
        acc += w / total
        edges.append((acc, brand))
    for i in range(CALLERS):
        x = (i + 0.5) / CALLERS
        brand = next((b for edge, b in edges if x <= edge), edges[-1][1])
        rows.append(f"{caller_number(i)},caller {i},{brand},{1 if brand == 'vip' else 0},")
    return "\n".join(rows) + "\n"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SpawnedServer:
    """`acd serve` in a child process on 127.0.0.1 with a temporary data folder; stopped
    (SIGTERM, then SIGKILL) on exit. The config is the given one or `generated_config`."""

    def __init__(
        self,
        sc: Scenario,
        *,
        config: str | None = None,
        time_scale: float = 1.0,
        token: str = "loadtest-switch",
        secret: str = "loadtest-agent",
        log_level: str = "warning",
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="acd-loadtest-"))
        self.config = (
            Path(config) if config else generated_config(sc, time_scale, token, secret, self.folder)
        )
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> SpawnedServer:
        """Start the child and wait until it answers /readyz."""
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "import sys; from acd.cli import main; sys.exit(main())",
             "serve", "--config", str(self.config), "--host", "127.0.0.1",
             "--port", str(self.port), "--data-dir", str(self.folder / "data"),
             "--log-level", self.log_level],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {self.log()}")
            url = f"http://127.0.0.1:{self.port}/readyz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server was not ready in {timeout} s: {self.log()}")

    def log(self) -> str:
        """The tail of the server's output."""
        with contextlib.suppress(OSError):
            return (self.folder / "server.log").read_text(errors="replace")[-2000:]
        return ""

    def stat(self) -> ProcStat:
        """CPU seconds and resident bytes of the server now."""
        assert self.proc is not None
        return ProcStat.of(self.proc.pid)

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        """SIGTERM, wait, SIGKILL if needed; remove the temporary folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SpawnedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def scraped_metrics(url: str) -> str | None:
    """The server's /metrics page (None when it cannot be read); `url` may be ws:// or http://."""
    http = "http" + url[2:] if url.startswith("ws") else url
    try:
        with urllib.request.urlopen(http.rstrip("/") + "/metrics", timeout=5) as r:
            text: str = r.read().decode()
    except (OSError, ValueError):
        return None
    return text


def scraped_cpu_seconds(url: str) -> float | None:
    """`process_cpu_seconds_total` from the server's /metrics, when it exports it."""
    text = scraped_metrics(url)
    if text is None:
        return None
    for line in text.splitlines():
        if line.startswith("process_cpu_seconds_total"):
            return float(line.split()[-1])
    return None


# ------------------------------------------------------------------ the measuring fleet


@dataclass(slots=True)
class Tally:
    """What the simulated people measured, in simulated seconds."""

    busy: float = 0.0
    staffed: float = 0.0
    handled: int = 0
    handle_time: float = 0.0
    replies: int = 0  # requests of the desktops answered (one frame each way)


class LiveFleet(SimFleet):
    """A SimFleet that also measures occupancy and handle time like `acd.sim` does."""

    def __init__(
        self, url: str, behaviour: Behaviour, seed: int, sc: Scenario, lean: bool = True
    ) -> None:
        super().__init__(url, behaviour, seed)
        self.lean = lean
        self.sc = sc
        self.k = behaviour.time_scale
        self.t0 = math.inf  # epoch of simulated time 0 (set when arrivals start)
        self.tally = Tally()
        self.state: dict[str, tuple[str, float]] = {}  # agent -> (state, since, epoch)
        self.talk: dict[str, tuple[str, float]] = {}  # agent -> (call, connected at, epoch)
        self.counted: set[str] | None = None

    def sim(self, epoch: float) -> float:
        """Simulated seconds of an epoch time."""
        return (epoch - self.t0) * self.k

    def make_agent(self, aid: str, secret: str) -> Desk:
        if self.lean:
            return LeanAgent(self, aid, secret)
        return super().make_agent(aid, secret)

    def replied(self, code: str | None) -> None:
        self.tally.replies += 1
        super().replied(code)

    def on_state(self, agent: SimAgent, st: m.StateChanged) -> None:
        old = self.state.get(agent.aid)
        if old is not None:
            self._span(old[0], old[1], st.at)
        self.state[agent.aid] = (st.state, st.at)
        super().on_state(agent, st)

    def _span(self, state: str, start: float, end: float) -> None:
        if state not in _STAFFED:
            return
        lo = max(self.sim(start), self.sc.warmup)
        hi = min(self.sim(end), self.sc.duration)
        if hi > lo:
            self.tally.staffed += hi - lo
            if state in _BUSY:
                self.tally.busy += hi - lo

    def close_spans(self, end: float) -> None:
        """Count the intervals still open at `end` (epoch)."""
        for state, since in self.state.values():
            self._span(state, since, end)
        self.state.clear()

    def _draw(self, mean: float) -> float:
        if mean > 0 and self.b.handle_dist == "lognormal":  # the same spread as `acd.sim`
            sigma = 0.8
            return self.rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma)
        return super()._draw(mean)

    def on_connected(self, agent: SimAgent, call_id: str) -> None:
        self.talk[agent.aid] = (call_id, time.time())
        super().on_connected(agent, call_id)

    def on_wrap_up(self, agent: SimAgent) -> None:
        acw = self.rng.expovariate(1.0 / self.b.acw) if self.b.acw > 0 else 0.0
        self._later(acw, self._after_call, agent, True)

    def _after_call(self, agent: SimAgent, wrapping: bool) -> None:
        talk = self.talk.pop(agent.aid, None)
        if talk is not None and self.counted is not None and talk[0] in self.counted:
            self.tally.handled += 1
            self.tally.handle_time += (time.time() - talk[1]) * self.k
        super()._after_call(agent, wrapping)


# ------------------------------------------------------------------ the run


@dataclass
class LiveOptions:
    """How to reach the server and who signs in (see `run_live`)."""

    server: str = ""  # ws://HOST:PORT; "" = spawn `acd serve`
    config: str = ""  # with a spawned server: its config (default: generated)
    time_scale: float = 1.0
    switch_id: str = SWITCH_ID
    switch_token: str = ""  # default: $ACD_LOADTEST_SWITCH_TOKEN, else the spawned one's
    agent_secret: str = ""  # default: $ACD_LOADTEST_AGENT_SECRET, else the spawned one's
    agent_ids: Sequence[str] = ()  # default: FIRST_AGENT.. (or the --config's first N)
    signin_concurrency: int = 200
    drain_seconds: float = 60.0  # real seconds to wait for queued and talking calls at the end
    think: float = 0.0  # mean seconds from offer to accept (the scenario's `think`)
    lean: bool = True  # desktops on `loadtest.lean_agents` (False: on AgentClient)
    # Pin the spawned server to one CPU and this process to the others (`pin_cpus`), so the
    # load's own bursts do not take the server's core; off by default (see docs/performance.md)
    pin: bool = False
    # Seconds to read the spawned server's CPU with everyone signed in and no calls, before
    # the arrivals: its idle rate (keepalives, timers), to tell per-call work from fixed costs.
    idle_probe: float = 0.0


def run_live(
    scenario: Scenario,
    server: str | None = None,
    *,
    progress: Callable[[float], None] | None = None,
    **options: Any,
) -> Result:
    """Run `scenario` live and return the figures `acd-loadtest --json` prints (without the
    theory). `server` is a `ws://HOST:PORT` to use; None spawns one. `options` are the fields
    of `LiveOptions`."""
    from acd.gc_tuning import tune_gc

    tune_gc()  # thousands of long-lived connections in this process
    opts = LiveOptions(server=server or "", **options)
    result: Result = _run_loop(live_run(scenario, opts, progress))
    return result


async def live_run(
    sc: Scenario, opts: LiveOptions, progress: Callable[[float], None] | None = None
) -> Result:
    """The coroutine behind `run_live` (spawns and stops the server when asked to)."""
    if opts.server:
        return await _drive(sc, opts, None, progress)
    token = opts.switch_token or os.environ.get(ENV_TOKEN, "") or "loadtest-switch"
    secret = opts.agent_secret or os.environ.get(ENV_SECRET, "") or "loadtest-agent"
    spawned = SpawnedServer(
        sc, config=opts.config or None, time_scale=opts.time_scale, token=token, secret=secret
    )
    await asyncio.to_thread(spawned.start)
    mine = os.sched_getaffinity(0)
    try:
        if opts.pin:
            pin_cpus(spawned.pid, os.getpid())
        run = LiveOptions(**{**opts.__dict__, "server": spawned.url})
        run.switch_token, run.agent_secret = token, secret
        return await _drive(sc, run, spawned, progress)
    finally:
        if opts.pin:
            _set_affinity(os.getpid(), mine)
        await asyncio.to_thread(spawned.stop)


def pin_cpus(server: int, client: int) -> tuple[set[int], set[int]]:
    """Put the server process on the first CPU this process may use and the client on the
    rest (every thread of each); returns (server CPUs, client CPUs). With one CPU, both
    stay on it."""
    cpus = sorted(os.sched_getaffinity(0))
    theirs, ours = {cpus[0]}, set(cpus[1:]) or {cpus[0]}
    _set_affinity(server, theirs)
    _set_affinity(client, ours)
    return theirs, ours


def _set_affinity(pid: int, cpus: set[int]) -> None:
    """Every thread of `pid` (threads started later inherit their creator's affinity)."""
    try:
        tasks = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        tasks = [pid]
    for tid in tasks:
        with contextlib.suppress(OSError):  # a thread that just ended
            os.sched_setaffinity(tid, cpus)


def _agent_ids(sc: Scenario, opts: LiveOptions) -> list[str]:
    if opts.agent_ids:
        return list(opts.agent_ids)[: sc.agents]
    if opts.config:
        from acd.config import load_config

        return list(load_config(opts.config).agents)[: sc.agents]
    return [str(FIRST_AGENT + i) for i in range(sc.agents)]


async def _drive(
    sc: Scenario,
    opts: LiveOptions,
    spawned: SpawnedServer | None,
    progress: Callable[[float], None] | None,
) -> Result:
    k = opts.time_scale
    base = opts.server.rstrip("/")
    token = opts.switch_token or os.environ.get(ENV_TOKEN, "")
    secret = opts.agent_secret or os.environ.get(ENV_SECRET, "")
    behaviour = Behaviour(
        think=opts.think,
        aht=sc.aht,
        handle_dist=sc.handle_dist,
        acw=sc.acw,
        miss_rate=sc.miss_rate,
        not_ready_rate=min(1.0, sc.aht / sc.not_ready_every) if sc.not_ready_every else 0.0,
        break_seconds=sc.break_length,
        time_scale=k,
    )
    fleet = LiveFleet(f"{base}/agent", behaviour, sc.seed, sc, lean=opts.lean)
    switch = SimSwitch(
        f"{base}/switch",
        opts.switch_id,
        token,
        caller=Caller(patience=sc.patience / k if sc.patience > 0 else 0.0),
        seed=sc.seed + 1,
    )
    rss0 = spawned.stat().rss if spawned is not None else 0
    signin0 = time.perf_counter()
    await fleet.start([(a, secret) for a in _agent_ids(sc, opts)], opts.signin_concurrency)
    signin = time.perf_counter() - signin0
    await asyncio.sleep(0.5)  # the sign-in's garbage settles before memory is read
    rss = spawned.stat().rss - rss0 if spawned is not None else None
    await switch.connect()
    await asyncio.sleep(0.2)  # the last sign-in pushes settle
    idle_rate = await _idle_rate(spawned, base, opts.idle_probe)
    counted: set[str] = set()
    fleet.counted = counted
    fleet.stats.latencies.clear()
    pushes0, requests0 = _agent_frames(fleet)
    frames0 = _switch_frames(switch)
    hist0 = scraped_histogram(base, OFFER_HISTOGRAM)
    cpu0 = _server_cpu(spawned, base)
    threads0 = ProcStat.threads(spawned.pid) if spawned is not None else {}
    own0 = time.process_time()
    loop = asyncio.get_running_loop()
    t0 = time.time()
    fleet.t0 = t0
    real0 = loop.time()
    arrivals = loop.create_task(_arrive(switch, sc, k, counted))
    ticker = loop.create_task(_tick(progress, real0, k)) if progress else None
    lag = LagProbe(loop)
    await arrivals
    lag.stop()
    own_arrivals = time.process_time() - own0
    # drain: every counted call answered or gone, then the talking ones finish
    await _wait(lambda: not any(c.id in counted and c.answered_at is None
                                for c in switch.calls.values()), opts.drain_seconds)  # fmt: skip
    await _wait(lambda: not switch.calls, opts.drain_seconds)
    await asyncio.sleep(min(1.0, 2 * sc.acw / k) if sc.acw else 0.05)
    end = time.time()
    cpu1 = _server_cpu(spawned, base)
    threads = ProcStat.threads(spawned.pid) if spawned is not None else {}
    own = time.process_time() - own0
    server_side = histogram_delta(hist0, scraped_histogram(base, OFFER_HISTOGRAM))
    fleet.close_spans(min(end, t0 + sc.duration / k))
    if ticker is not None:
        ticker.cancel()
    pushes, requests = _agent_frames(fleet)
    pushes, requests = pushes - pushes0, requests - requests0
    frames = _switch_frames(switch) - frames0
    result = _figures(sc, k, switch, fleet, counted)
    completed = sum(1 for c in switch.ended.values() if c.answered_at is not None)
    agent_frames = pushes + 2 * requests
    result.update(
        {
            "offer_latency_p50_ms": _finite(fleet.stats.percentile(0.5)),
            "offer_latency_p99_ms": _finite(fleet.stats.percentile(0.99)),
            # the same offers as the server saw them: decision -> frame in its socket
            # (its acd_offer_latency_seconds histogram; quantiles interpolated in a bucket)
            "server_offer_latency_p50_ms": _ms(bucket_quantile(server_side, 0.5)),
            "server_offer_latency_p99_ms": _ms(bucket_quantile(server_side, 0.99)),
            "server_offers_within_5ms": _share(server_side, 0.005),
            # how late this process ran its own timers while the calls arrived: the share of
            # the desktops' latency that is the load generator being behind
            "client_lag_p50_ms": _finite(lag.percentile(0.5)),
            "client_lag_p99_ms": _finite(lag.percentile(0.99)),
            "client_lag_max_ms": _finite(lag.percentile(1.0)),
            "server_cpu_seconds": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
            # the server's CPU on its event loop's thread; the rest is its other threads
            # (the journal's writer, mostly)
            "server_loop_cpu_seconds": _thread_cpu(spawned, threads0, threads),
            "server_idle_cpu_per_second": idle_rate,
            "time_scale": k,
            "agents_signed_in": len(fleet.agents),
            "calls_completed": completed,
            "frames_per_call": (frames + agent_frames) / completed if completed else None,
            "switch_frames_per_call": frames / completed if completed else None,
            "agent_frames_per_call": agent_frames / completed if completed else None,
            "sign_in_seconds": signin,
            "server_rss_per_agent_bytes": rss / len(fleet.agents) if rss and fleet.agents else None,
            "real_seconds": end - t0,
            "driver_cpu_seconds": own,
            "driver_cpu_seconds_arrivals": own_arrivals,
            "switch_commands": dict(switch.commands),
            "errors": len(switch.errors) + sum(fleet.stats.errors.values()),
            "error_codes": _codes(switch, fleet),
        }
    )
    await switch.close()
    await fleet.stop()
    return result


def _codes(sw: SimSwitch, fleet: SimFleet) -> dict[str, int]:
    """Error replies by code (a desktop's accept can race the caller's hang-up: that is the
    world, not a fault)."""
    codes = dict(fleet.stats.errors)
    for e in sw.errors:
        codes[f"switch:{e.code}"] = codes.get(f"switch:{e.code}", 0) + 1
    return codes


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _ms(x: float | None) -> float | None:
    return None if x is None else 1000.0 * x


OFFER_HISTOGRAM = "acd_offer_latency_seconds"
Buckets = list[tuple[float, float]]  # (upper bound in seconds, cumulative count)


def scraped_histogram(url: str, name: str) -> Buckets | None:
    """A histogram's cumulative buckets from the server's /metrics (None without one)."""
    text = scraped_metrics(url)
    if text is None:
        return None
    out: Buckets = []
    prefix = name + '_bucket{le="'
    for line in text.splitlines():
        if line.startswith(prefix):
            le, _, count = line[len(prefix) :].partition('"}')
            out.append((float(le), float(count)))
    return sorted(out) or None


def histogram_delta(before: Buckets | None, after: Buckets | None) -> Buckets | None:
    """The observations between two scrapes of one histogram."""
    if before is None or after is None or len(before) != len(after):
        return None
    return [(le, n1 - n0) for (le, n0), (_, n1) in zip(before, after, strict=True)]


def bucket_quantile(buckets: Buckets | None, q: float) -> float | None:
    """The q-quantile, linear within its bucket (as Prometheus' histogram_quantile); the
    highest finite bound when it falls in the +Inf bucket."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lo, below = 0.0, 0.0
    for le, n in buckets:
        if n >= rank:
            if math.isinf(le):
                return lo
            return lo + (le - lo) * ((rank - below) / (n - below) if n > below else 1.0)
        lo, below = le, n
    return lo


def _share(buckets: Buckets | None, bound: float) -> float | None:
    """The share of observations at or under `bound` (one of the bucket bounds)."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    for le, n in buckets:
        if le == bound:
            return n / buckets[-1][1]
    return None


class LagProbe:
    """How late this process's event loop runs a timer, sampled every `period` seconds: when
    the load generator is behind, the latencies it records include its own lag."""

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float = 0.005) -> None:
        self.loop = loop
        self.period = period
        self.lags: list[float] = []
        self.due = time.perf_counter() + period
        self.handle: asyncio.TimerHandle | None = loop.call_later(period, self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lags.append(max(0.0, now - self.due))
        self.due = now + self.period
        self.handle = self.loop.call_later(self.period, self._tick)

    def stop(self) -> None:
        """Stop sampling."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def percentile(self, q: float) -> float:
        """The q-quantile of the lags in milliseconds (nan when none)."""
        if not self.lags:
            return math.nan
        xs = sorted(self.lags)
        return 1000.0 * xs[min(len(xs) - 1, int(q * len(xs)))]


def _switch_frames(sw: SimSwitch) -> int:
    """Frames the switch sent and received: requests and their replies, commands and
    their results."""
    return 2 * len(sw.rtts) + 2 * sum(sw.commands.values())


def _agent_frames(fleet: LiveFleet) -> tuple[int, int]:
    """Pushes received and requests answered of every desktop so far."""
    return sum(a.last_seq for a in fleet.agents), fleet.tally.replies


async def _idle_rate(spawned: SpawnedServer | None, base: str, seconds: float) -> float | None:
    """The server's CPU seconds per second with nothing to do (None without a probe)."""
    if seconds <= 0:
        return None
    before = _server_cpu(spawned, base)
    t0 = time.perf_counter()
    await asyncio.sleep(seconds)
    after = _server_cpu(spawned, base)
    if before is None or after is None:
        return None
    return (after - before) / (time.perf_counter() - t0)


def _thread_cpu(
    spawned: SpawnedServer | None, before: dict[int, float], after: dict[int, float]
) -> float | None:
    """CPU seconds the spawned server's main thread used between two `ProcStat.threads`."""
    if spawned is None or spawned.pid not in after:
        return None
    return after[spawned.pid] - before.get(spawned.pid, 0.0)


def _server_cpu(spawned: SpawnedServer | None, base: str) -> float | None:
    if spawned is not None:
        return spawned.stat().cpu
    return scraped_cpu_seconds(base)


async def _arrive(sw: SimSwitch, sc: Scenario, k: float, counted: set[str]) -> None:
    """Poisson arrivals over simulated [0, duration), K times faster in real time."""
    if sc.rate <= 0:
        return
    loop = asyncio.get_running_loop()
    rng = random.Random(sc.seed)
    # with a brand mix, the directory's numbers; else a large population, as on a service
    # number where few callers call twice in an hour (each repeat costs a history lookup)
    callers = CALLERS if sc.brand_mix else POPULATION
    real0 = loop.time()
    t = 0.0
    while True:
        t += rng.expovariate(sc.rate)
        if t >= sc.duration:
            return
        delay = real0 + t / k - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        c = sw.new_call(caller_number(rng.randrange(callers)))
        if t >= sc.warmup:
            counted.add(c.id)


async def _tick(progress: Callable[[float], None], real0: float, k: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        progress((loop.time() - real0) * k)
        await asyncio.sleep(0.25)


async def _wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _figures(sc: Scenario, k: float, sw: SimSwitch, fleet: LiveFleet, counted: set[str]) -> Result:
    calls: list[SimCall] = [c for c in (*sw.ended.values(), *sw.calls.values()) if c.id in counted]
    offered = len(calls)
    waits = [(c.answered_at - c.arrived_at) * k for c in calls if c.answered_at is not None]
    answered = len(waits)
    abandoned = sum(1 for c in calls if c.answered_at is None and c.end_reason == "caller")
    blocked = sum(
        1
        for c in calls
        if c.answered_at is None and c.state == "ended" and c.end_reason != "caller"
    )
    within = sum(1 for w in waits if w <= sc.sl_threshold)
    t = fleet.tally
    window = sc.duration - sc.warmup
    return {
        "offered": offered,
        "answered": answered,
        "abandoned": abandoned,
        "blocked": blocked,
        "service_level": within / offered if offered else 0.0,
        "asa_seconds": sum(waits) / answered if answered else 0.0,
        "abandon_rate": abandoned / offered if offered else 0.0,
        "aht_seconds": t.handle_time / t.handled if t.handled else 0.0,
        "occupancy": t.busy / t.staffed if t.staffed else 0.0,
        "calls_per_second": offered / window if window > 0 else 0.0,
    }


def _run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)
