"""What the core's subscribers cost per completed call, without sockets or neighbours' noise.

    python -m loadtest.bench_sinks --agents 1000 --rate 200 --seconds 60 --repeat 5

A seeded simulation (`acd.sim`, one FIFO group, exponential 5 s talk) records every batch of
outputs the engine produced. Each subscriber the server runs on the event loop is then fed the
same batches, in order, and its CPU time (this thread's) is divided by the calls completed:

- `journal`: `JournalComponent.record` (records, recent contacts, hand-over to the store);
- `metrics`: `Metrics.record` (counters and histograms);
- `pushes`: `PushRouter.deliver` with a signed-in desktop per agent whose channel encodes each
  push and keeps the frame (the socket write itself is the transport's, not measured here);
- `writer`: the store's writer thread committing the journal's records, in commits of
  `--calls-per-commit` calls (its own thread's CPU, per call).

Every figure is the best of `--repeat` rounds.

    python -m loadtest.bench_sinks --live --agents 1000 --rate 200 --seconds 60

`--live` instead runs the scenario over real sockets (`loadtest.live`) against a spawned server
and splits the server's CPU by thread (from /proc): the event loop's thread and the store's
writer, per completed call, with the journal's commits per call (from /metrics). The window
is the whole run: the desktops' sign-in and the last calls' end are in it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import shutil
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from acd import events as ev
from acd.journal import JournalComponent
from acd.metrics import Metrics
from acd.sim import Scenario, Simulation
from acd.store import open_store
from agent_gateway.framing import Channel, Codec
from agent_gateway.messages import AnyPush
from agent_gateway.pushes import PushRouter
from agent_gateway.sessions import SessionTable
from agent_gateway.views import Today

Batches = list[list[ev.Output]]


class _Recording(Simulation):
    """A simulation that keeps every output batch."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        self.batches: Batches = []

    def react(self, outs: list[ev.Output]) -> None:
        if outs:
            self.batches.append(list(outs))
        super().react(outs)


def record_batches(agents: int, rate: float, seconds: float) -> tuple[Simulation, Batches, int]:
    """The engine's output batches of one run, and the calls completed in it."""
    sim = _Recording(Scenario(agents=agents, rate=rate, aht=5.0, duration=seconds, seed=7))
    sim.run()
    ended = sum(1 for b in sim.batches for o in b if type(o) is ev.CallEnded)
    return sim, sim.batches, ended


class _KeptChannel(Channel):
    """A channel whose frames are kept instead of written (the encoding is still paid)."""

    def __init__(self, codec: Codec[Any]) -> None:
        super().__init__(None, codec, binary=True, limit=1_000_000)  # type: ignore[arg-type]
        self.frames = 0

    def send_frame(self, frame: bytes) -> bool:
        self.frames += 1
        return True


def _cpu(fn: Callable[[], None]) -> float:
    t0 = time.thread_time()
    fn()
    return time.thread_time() - t0


def journal_cost(sim: Simulation, batches: Batches) -> float:
    """CPU seconds of the journal's sink over every batch (store writes not included)."""
    folder = Path(tempfile.mkdtemp(prefix="acd-bench-sinks-"))
    store = open_store(folder, synchronous="off")
    journal = JournalComponent(store, lambda: 0.0)
    journal.engine = sim.engine
    seconds = 0.0

    async def feed() -> None:
        nonlocal seconds
        record = journal.record
        step = 200  # hand over between slices as the timer would
        for i in range(0, len(batches), step):
            part = batches[i : i + step]

            def run(part: Sequence[list[ev.Output]] = part) -> None:
                for b in part:
                    record(b)
                journal.flush()

            seconds += _cpu(run)
            await asyncio.sleep(0)

    asyncio.run(feed())
    store.close()
    shutil.rmtree(folder, ignore_errors=True)
    return seconds


def metrics_cost(batches: Batches) -> float:
    """CPU seconds of the metrics sink over every batch."""
    metrics = Metrics()

    def run() -> None:
        record = metrics.record
        for b in batches:
            record(b)

    return _cpu(run)


def pushes_cost(sim: Simulation, batches: Batches) -> float:
    """CPU seconds of the agent gateway's push router over every batch."""
    codec: Codec[Any] = Codec(AnyPush.__args__)
    sessions = SessionTable(100, 30.0, lambda _s: None, keep_for=60.0)
    for aid in sim.agent_ids:
        sessions.open(aid, _KeptChannel(codec))
    router = PushRouter(
        sim.engine,
        sessions,
        Today(dt.UTC),
        clock=lambda: 0.0,
        journal=lambda: None,
        metrics=lambda: None,
        recent_limit=5,
        on_left_alone=lambda _a: None,
    )

    def run() -> None:
        deliver = router.deliver
        for b in batches:
            deliver(b)

    return _cpu(run)


def writer_cost(batches: Batches, calls_per_commit: int, ended: int) -> float:
    """CPU seconds of the store's writer thread for every record of the run, committed in
    groups of `calls_per_commit` calls with `synchronous=full`."""
    folder = Path(tempfile.mkdtemp(prefix="acd-bench-writer-"))
    store = open_store(folder, synchronous="full", linger=0.0, sync_linger=0.0)
    journal = JournalComponent(store, lambda: 0.0)
    groups: list[list[Any]] = [[]]
    calls = 0
    for b in batches:
        groups[-1].extend(journal.recorder.feed(b))
        calls += sum(1 for o in b if type(o) is ev.CallEnded)
        if calls >= calls_per_commit:
            groups.append([])
            calls = 0
    thread = store._thread
    assert thread is not None and thread.ident is not None
    clock = time.pthread_getcpuclockid(thread.ident)
    t0 = time.clock_gettime(clock)
    for g in groups:
        done = threading.Event()
        store.append(g)
        store.sync(done.set)
        done.wait()
    spent = time.clock_gettime(clock) - t0
    store.close()
    shutil.rmtree(folder, ignore_errors=True)
    return spent


def _threads(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of a process (Linux /proc)."""
    out: dict[int, float] = {}
    ticks = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _commits(url: str) -> float:
    http = "http" + url[2:]
    with urllib.request.urlopen(http + "/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("acd_journal_commit_seconds_count"):
                return float(line.split()[-1])
    return 0.0


def live(agents: int, rate: float, seconds: float) -> None:
    """One live run; the server's CPU per call by thread, and commits per call."""
    from loadtest.live import SpawnedServer, run_live

    sc = Scenario(agents=agents, rate=rate, aht=5.0, duration=seconds, warmup=1.0, seed=7)
    with SpawnedServer(sc) as server:
        before, commits = _threads(server.pid), _commits(server.url)
        r = run_live(
            sc,
            server.url,
            switch_token="loadtest-switch",
            agent_secret="loadtest-agent",
        )
        after, commits = _threads(server.pid), _commits(server.url) - commits
    n = r["calls_completed"]
    load = os.getloadavg()[0]
    print(f"{n} calls completed at {rate:g} calls/s, {agents} agents (load average {load:.2f})")
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    loop = spent.pop(server.pid, 0.0)
    writer = max(spent.values(), default=0.0)  # the busiest other thread: the store's writer
    print(f"event loop thread   {loop / n * 1e6:7.0f} µs per call")
    print(f"store writer thread {writer / n * 1e6:7.0f} µs per call")
    print(f"journal commits     {commits / n:7.2f} per call")


def main(argv: Sequence[str] | None = None) -> int:
    """Print each subscriber's CPU per completed call."""
    p = argparse.ArgumentParser(prog="bench_sinks", description=__doc__.splitlines()[0])
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--rate", type=float, default=200.0)
    p.add_argument("--seconds", type=float, default=60.0, help="simulated seconds of arrivals")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--calls-per-commit", type=int, default=2)
    p.add_argument("--live", action="store_true", help="over real sockets, CPU by thread")
    args = p.parse_args(argv)
    if args.live:
        live(args.agents, args.rate, args.seconds)
        return 0
    sim, batches, ended = record_batches(args.agents, args.rate, args.seconds)
    outputs = sum(len(b) for b in batches)
    print(
        f"{ended} calls completed, {len(batches)} batches, {outputs} outputs "
        f"({outputs / ended:.1f} per call)"
    )
    rounds: dict[str, list[float]] = {"journal": [], "metrics": [], "pushes": [], "writer": []}
    for _ in range(args.repeat):
        rounds["journal"].append(journal_cost(sim, batches))
        rounds["metrics"].append(metrics_cost(batches))
        rounds["pushes"].append(pushes_cost(sim, batches))
        rounds["writer"].append(writer_cost(batches, args.calls_per_commit, ended))
    total = 0.0
    for name, secs in rounds.items():
        best = min(secs) / ended * 1e6
        total += best
        spread = max(secs) / ended * 1e6
        print(f"{name:8s} {best:7.1f} µs per call (worst round {spread:.1f})")
    print(f"{'total':8s} {total:7.1f} µs per call")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
