"""Journal benchmarks: store write throughput, and the cost of commit-before-ack at load.

    python -m loadtest.bench_journal --records 200000 --seconds 3 --synchronous full

1. Throughput: records handed to the SQLite store as fast as possible (in batches of one
   call's records, as the journal does), until all are committed: records per second.
2. Commit before ack: calls end at a steady rate; for each, the call's records (a call
   detail record, an offer, four agent state intervals, a handled call) are appended and the
   barrier awaited, as the switch link does before acknowledging. Barrier latency p50/p99 at
   each rate; the last rates show where the writer saturates.
3. Writer CPU per call: calls handed over in commits of `--per-commit` calls (ten is what
   the group commit makes of 200 calls/s), each awaited; this process's CPU per call, which
   is almost all the writer thread's (the journal's share of the server's CPU per call).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path

from acd.journal import JournalComponent
from acd.store import (
    AgentStateRecord,
    CallRecord,
    HandledRecord,
    OfferRecord,
    Record,
    open_store,
)


def call_records(i: int, t: float) -> list[Record]:
    """What the journal writes for one answered call."""
    cid, aid = f"c{i}", f"a{i % 500}"
    return [
        CallRecord(
            call_id=cid, kind="inbound", group="general", groups=["general"], cause="completed",
            ended_by="caller", ended_at=t, queued_at=t - 200, answered_at=t - 180, wait=20.0,
            talk=170.0, hold=10.0, agents=[aid], caller=f"138{i:08d}", brand="gotone",
            ivr_path=["main", "2"],
            detail={
                "segments": [{"at": t - 200, "group": "general", "how": "queued"}],
                "offers": [{"at": t - 185, "agent": aid, "group": "general",
                            "result": "accepted", "ended_at": t - 183, "reason": ""}],
                "answers": [{"at": t - 180, "group": "general", "agent": aid, "wait": 20.0}],
            },
        ),
        OfferRecord(cid, aid, "general", t - 185, t - 183, "accepted"),
        AgentStateRecord(aid, "ready", "", t - 300, t - 185),
        AgentStateRecord(aid, "reserved", "", t - 185, t - 180, call_id=cid),
        AgentStateRecord(aid, "on_call", "", t - 180, t, call_id=cid),
        AgentStateRecord(aid, "wrap_up", "", t, t + 30, call_id=cid),
        HandledRecord(aid, cid, "general", t + 30, 180.0, 30.0),
    ]  # fmt: skip


def throughput(n_records: int, synchronous: str, batch: int) -> tuple[float, int]:
    """Records per second committed, and the number of commits."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp, synchronous=synchronous, batch=batch)
        calls = [call_records(i, 1.7e9 + i) for i in range(n_records // 7)]
        done = threading.Event()
        t0 = time.perf_counter()
        for recs in calls:
            store.append(recs)
        store.sync(done.set)
        done.wait()
        elapsed = time.perf_counter() - t0
        commits = store.commits
        store.close()
    return len(calls) * 7 / elapsed, commits


def writer_cost(calls: int, per_commit: int, synchronous: str) -> float:
    """CPU seconds per call of committing `calls` calls' records, `per_commit` per commit."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp, synchronous=synchronous)
        groups = [
            [call_records(i, 1.7e9 + i) for i in range(j, min(j + per_commit, calls))]
            for j in range(0, calls, per_commit)
        ]
        done = threading.Event()
        t0 = time.process_time()
        for group in groups:
            done.clear()
            for recs in group:
                store.append(recs)
            store.sync(done.set)
            done.wait()
        used = time.process_time() - t0
        store.close()
    return used / calls


async def _barrier_run(journal: JournalComponent, rate: float, seconds: float) -> list[float]:
    loop = asyncio.get_running_loop()
    lat: list[float] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        journal.store.append(call_records(i, 1.7e9 + i))
        await journal.barrier()
        lat.append(time.perf_counter() - t0)

    start = loop.time()
    i = 0
    while loop.time() - start < seconds:
        i += 1
        task = asyncio.create_task(one(i))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif i % 50 == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return lat


def barrier_latency(rate: float, seconds: float, synchronous: str) -> tuple[float, float, float]:
    """(p50, p99 in seconds, calls acknowledged per second) at `rate` calls per second."""
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(Path(tmp), synchronous=synchronous)
        journal = JournalComponent(store, time.time)
        t0 = time.perf_counter()
        lat = asyncio.run(_barrier_run(journal, rate, seconds))
        elapsed = time.perf_counter() - t0
        store.close()
    q = statistics.quantiles(lat, n=100)
    return q[49], q[98], len(lat) / elapsed


def main() -> int:
    """Print the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--synchronous", default="full", choices=["off", "normal", "full"])
    p.add_argument("--batch", type=int, default=5000)
    p.add_argument("--rates", default="200,1000,2000,5000")
    p.add_argument("--per-commit", type=int, default=10, help="calls per commit (writer CPU)")
    args = p.parse_args()
    rps, commits = throughput(args.records, args.synchronous, args.batch)
    print(f"store throughput (synchronous={args.synchronous}): {rps:,.0f} records/s "
          f"({args.records:,} records, {commits} commits)")  # fmt: skip
    cost = writer_cost(args.records // 7, args.per_commit, args.synchronous)
    print(f"writer CPU per call, {args.per_commit} calls a commit: {cost * 1e6:.0f} µs")
    print("commit before ack: rate calls/s | barrier p50 ms | p99 ms | acked calls/s")
    for rate in (float(r) for r in args.rates.split(",")):
        p50, p99, acked = barrier_latency(rate, args.seconds, args.synchronous)
        print(f"  {rate:8,.0f} | {p50 * 1e3:8.2f} | {p99 * 1e3:8.2f} | {acked:10,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
