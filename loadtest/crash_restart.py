"""Crash and restart under live load: SIGKILL the server at random moments, restart it on the
same data folder, and check what came back.

    python -m loadtest.crash_restart --rounds 5 --agents 12 --rate 8

Each round: live load (a simulated switch placing calls, simulated agents over websockets;
some queued callers press 1 for a callback or 2 to leave a voicemail), SIGKILL after a random
1.5-3.5 s, restart on the same folder, the switch reconnects and resyncs, then the agents
sign in again. Checked after every restart, before any agent is back:

- every call the switch still holds is back: queued with its original `queued_at` and
  priority, or connected to the same agent;
- every callback or voicemail task whose request the switch saw acknowledged, and that no
  agent had started, is owed again (its place, attempts and voicemail reference kept);
- the interval's live figures are rebuilt from the journal (answered count > 0);
- the core's invariants hold.

At the end: every call the switch was told had ended (the server's `hangup`) has its record,
and the database passes its integrity check. Prints calls lost, records lost, tasks lost and
the time to recover (process start to `/readyz`, and to the switch resynced with every
agent signed in again).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from acd.store import open_store
from ivr import messages as m
from loadtest.rig import Rig
from loadtest.sim_agents import Behaviour, SimFleet
from loadtest.sim_switch import Caller, SimCall, SimSwitch, SwitchError, poisson

CALLERS = ["13800000001", "13900000002", "13700000003", "13600000001"]


class TaskSwitch(SimSwitch):
    """A simulated switch whose queued callers sometimes ask for a callback or a voicemail,
    and which remembers which of those the server acknowledged."""

    def __init__(self, *args: Any, callback_share: float, voicemail_share: float, **kw: Any):
        super().__init__(*args, **kw)
        self.callback_share = callback_share
        self.voicemail_share = voicemail_share
        self.tasks: set[str] = set()  # acknowledged callback / voicemail tasks
        self.dialed: set[str] = set()  # tasks an agent started (dial-out seen)
        self.on_command = self._watch
        self._pending: set[asyncio.Task[None]] = set()

    def _watch(self, call: SimCall | None, cmd: Any) -> None:
        if isinstance(cmd, m.DialOut):
            self.dialed.add(cmd.call_id)
        if not isinstance(cmd, m.Queue) or call is None or call.state == "queued":
            return
        x = self.rng.random()
        key = (
            "1"
            if x < self.callback_share
            else "2"
            if x < self.callback_share + self.voicemail_share
            else ""
        )
        if key:
            self._later(self.rng.uniform(0.1, 0.8), self._press, call, key)

    def _press(self, call: SimCall, key: str) -> None:
        if call.state != "queued":
            return
        task = asyncio.get_running_loop().create_task(self._ask(call.id, key))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _ask(self, cid: str, key: str) -> None:
        try:
            res = await self.request(m.Digits(0, cid, key), timeout=5.0)
        except (SwitchError, ConnectionError, TimeoutError):
            return
        if key == "1" and not (isinstance(res, dict) and res.get("ignored")):
            self.tasks.add(cid)

    def _record_voicemail(self, c: SimCall, cmd: m.RecordVoicemail) -> None:
        c.prompts.append(cmd.prompt)
        ref = self.caller.voicemail_ref.format(call=c.id)
        self._end(c, "voicemail")
        task = asyncio.get_running_loop().create_task(self._voicemail(c.id, ref))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _voicemail(self, cid: str, ref: str) -> None:
        try:
            await self.request(m.Voicemail(0, cid, ref), timeout=5.0)
        except (SwitchError, ConnectionError, TimeoutError):
            return
        self.tasks.add(cid)


@dataclass
class Round:
    """One kill and restart."""

    killed_after: float = 0.0
    held: int = 0  # calls the switch held at the resync
    ended_before: int = 0  # held by the switch, but their record says they had ended
    queued_ok: int = 0
    connected_ok: int = 0
    lost: list[str] = field(default_factory=list)
    wrong_place: list[str] = field(default_factory=list)
    tasks_owed: int = 0
    tasks_lost: list[str] = field(default_factory=list)
    ready_seconds: float = 0.0
    recover_seconds: float = 0.0
    interval_answered: int = 0
    violations: list[str] = field(default_factory=list)


@dataclass
class CrashResult:
    """Every round, then the records."""

    rounds: list[Round] = field(default_factory=list)
    told_ended: int = 0
    records_missing: list[str] = field(default_factory=list)
    integrity: str = ""
    calls_placed: int = 0


def verbose() -> bool:
    import os

    return bool(os.environ.get("CRASH_VERBOSE"))


def _state(rig: Rig) -> dict[str, Any]:
    status, body = rig.http("/debug/state")
    if status != 200:
        raise RuntimeError(f"/debug/state answered {status}")
    data: dict[str, Any] = json.loads(body)
    return data


async def _round(
    rig: Rig, sw: TaskSwitch, n_agents: int, rate: float, rng: random.Random, res: CrashResult
) -> Round:
    r = Round()
    fleet = SimFleet(
        f"{rig.base}/agent", Behaviour(think=0.1, aht=2.0, acw=0.2), seed=rng.randrange(1 << 30)
    )
    await fleet.start(rig.credentials(n_agents))
    r.killed_after = rng.uniform(1.5, 3.5)
    load = asyncio.create_task(poisson(sw, rate, r.killed_after, CALLERS))
    await asyncio.sleep(r.killed_after)
    rig.kill()
    res.calls_placed += await load
    await asyncio.sleep(0.3)  # the clients notice
    await fleet.stop()
    loop = asyncio.get_running_loop()
    t0 = time.monotonic()
    r.ready_seconds = await loop.run_in_executor(None, rig.start)
    await sw.close()
    unanswered = sw.unanswered()  # sent as the server died: never accepted, never held
    for cid in unanswered:
        c = sw.calls.get(cid)
        if c is not None:
            sw._end(c, "never-accepted")
    snapshot = {cid: (c.state, c.queued_at, c.priority, c.agent_id) for cid, c in sw.calls.items()}
    await sw.connect()
    state = await loop.run_in_executor(None, _state, rig)
    calls = state["calls"]
    refused = (sw.resync_result or {}).get("refused", [])
    over = {x["call_id"] for x in refused if x.get("code") == "ended"}
    r.held = len(snapshot)
    for cid, (st, queued_at, priority, agent) in snapshot.items():
        got = calls.get(cid)
        if got is None and cid in over:
            r.ended_before += 1  # it had ended; the switch had not heard yet
            continue
        if got is None:
            r.lost.append(cid)
            if verbose():
                print(
                    "lost", cid, st, queued_at, priority, agent, sw.resync_result, file=sys.stderr
                )
        elif st == "queued":
            same = (
                got["phase"] == "queued"
                and queued_at is not None
                and abs(got["queued_at"] - queued_at) < 1e-6
                and priority is not None
                and abs(got["priority"] - priority) < 1e-6
            )
            r.queued_ok += same
            if not same:
                r.wrong_place.append(cid)
                if verbose():
                    print("misplaced", cid, st, queued_at, priority, got, file=sys.stderr)
        elif st == "connected":
            same = got["phase"] == "connected" and got["agent"] == agent
            r.connected_ok += same
            if not same:
                r.wrong_place.append(cid)
                if verbose():
                    print("misplaced", cid, st, agent, got, file=sys.stderr)
    for cid in sw.tasks - sw.dialed:
        got = calls.get(cid)
        if got is not None and got["kind"] in ("callback", "voicemail"):
            r.tasks_owed += 1
        else:
            r.tasks_lost.append(cid)
    sw.tasks &= set(calls)  # the next round checks what is still owed now
    r.violations = state["violations"]
    interval = state.get("interval", {}).get("g", {})
    r.interval_answered = int(interval.get("answered", 0))
    # Connected callers finish their calls after the restart; agents come back.
    for c in list(sw.calls.values()):
        if c.state == "connected":
            sw._later(rng.uniform(0.5, 2.0), sw.hang_up, c)
    fleet = SimFleet(
        f"{rig.base}/agent", Behaviour(think=0.1, aht=2.0, acw=0.2), seed=rng.randrange(1 << 30)
    )
    await fleet.start(rig.credentials(n_agents))
    r.recover_seconds = time.monotonic() - t0
    await asyncio.sleep(1.0)
    await fleet.stop()
    return r


async def _drive(
    rig: Rig, rounds: int, agents: int, rate: float, seed: int, res: CrashResult
) -> None:
    rng = random.Random(seed)
    sw = TaskSwitch(
        f"{rig.base}/switch",
        "pbx-1",
        "pbx-secret",
        caller=Caller(answer_probability=1.0),
        seed=seed,
        callback_share=0.15,
        voicemail_share=0.05,
    )
    await sw.connect()
    for _ in range(rounds):
        res.rounds.append(await _round(rig, sw, agents, rate, rng, res))
    told = [c.id for c in sw.ended.values() if c.end_reason in ("completed", "ended")]
    res.told_ended = len(told)
    await sw.close()
    rig.stop()
    store = open_store(rig.data, writer=False)
    ids = store.call_ids()
    res.records_missing = sorted(c for c in told if c not in ids)
    res.integrity = store.check()
    store.close()


def run(
    folder: Path, rounds: int = 3, agents: int = 12, rate: float = 8.0, seed: int = 1
) -> CrashResult:
    """Kill and restart `rounds` times in `folder`."""
    rig = Rig.write(folder, agents=agents, retry=600, grace=120)
    rig.start()
    res = CrashResult()
    try:
        asyncio.run(_drive(rig, rounds, agents, rate, seed, res))
    finally:
        rig.stop()
    return res


def main() -> int:
    """Print the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--agents", type=int, default=12)
    p.add_argument("--rate", type=float, default=8.0, help="calls per second")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        res = run(Path(tmp), args.rounds, args.agents, args.rate, args.seed)
    print("round  killed_at  held  queued_ok  connected_ok  lost  misplaced  tasks_owed  "
          "tasks_lost  ready_s  recover_s  interval_answered  violations")  # fmt: skip
    for i, r in enumerate(res.rounds, 1):
        print(
            f"{i:5}  {r.killed_after:8.2f}s  {r.held:4}  {r.queued_ok:9}  {r.connected_ok:12}  "
            f"{len(r.lost):4}  {len(r.wrong_place):9}  {r.tasks_owed:10}  {len(r.tasks_lost):10}  "
            f"{r.ready_seconds:7.2f}  {r.recover_seconds:9.2f}  {r.interval_answered:17}  "
            f"{len(r.violations):10}"
        )
    lost = sum(len(r.lost) for r in res.rounds)
    misplaced = sum(len(r.wrong_place) for r in res.rounds)
    tasks_lost = sum(len(r.tasks_lost) for r in res.rounds)
    print(f"calls placed                 {res.calls_placed}")
    print(f"calls lost                   {lost} (misplaced {misplaced})")
    print(f"tasks lost                   {tasks_lost}")
    print(f"ends told to the switch      {res.told_ended}")
    print(f"records lost                 {len(res.records_missing)}")
    print(f"integrity                    {res.integrity}")
    rs = [r.ready_seconds for r in res.rounds]
    rc = [r.recover_seconds for r in res.rounds]
    if rs:
        print(f"time to ready (max)          {max(rs):.2f} s")
        print(f"time to recover (max)        {max(rc):.2f} s  (ready + resync + agents back)")
    bad = lost or misplaced or tasks_lost or res.records_missing or res.integrity != "ok"
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
