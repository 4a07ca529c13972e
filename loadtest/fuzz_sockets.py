"""Malformed and out-of-place frames on `/agent`, `/admin` and `/switch` of a live server while
simulated agents take calls from a simulated switch.

    python -m loadtest.fuzz_sockets --frames 100000 --agents 20 --rate 10

First a clean phase (load only) measures the working agents' offer latency; then the fuzz
phase keeps the same load while one attacker per socket sends frames in lockstep (send one,
read what comes back): random bytes and text, broken JSON and MessagePack, unknown types,
wrong field types, missing fields, oversized frames, first frames that are not a hello, and
well-formed requests out of place (unknown calls and agents, a second hello or sign-in).
Every frame must be answered by a typed error (`{"type":"error","code":…}`) or by a close with
a code and a reason; the attacker then reconnects and goes on. Prints the frames sent per
socket, how they were answered, anything else (an `ok`, silence, a close without a reason,
`internal` errors), whether the server is still up and serving, and the offer latency p50/p99
of the working agents clean and under fuzz.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from loadtest.rig import ADMIN_SECRET, AGENT_SECRET, SWITCH_TOKEN, Rig
from loadtest.sim_agents import Behaviour, SimFleet
from loadtest.sim_switch import Caller, SimSwitch, poisson

CALLERS = ["13800000001", "13900000002", "13700000003"]
KINDS = ("agent", "admin", "switch")
TAGS = {
    # no "ready": the attacking agent must never take calls
    "agent": ["hello", "sign_in", "accept", "reject", "hangup", "not_ready", "hold"],
    "admin": ["hello", "sign_in", "force_ready", "assign_call", "set_priority", "supervise"],
    "switch": ["hello", "resync", "arrived", "digits", "caller_hangup", "agent_answered"],
}
FIELDS = ["id", "call_id", "agent_id", "reason", "digits", "version", "seq", "x", "calls"]


@dataclass
class Tally:
    """How the frames were answered, per socket."""

    sent: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    codes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Frames sent on every socket."""
        return sum(self.sent.values())


def _value(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            -1,
            2**63,
            1.5e308,
            "",
            "x" * rng.randint(1, 300),
            [1, "a"],
            {"k": [None]},
            "\u0000\ud7ff",
        ]
    )


def bad_frame(kind: str, rng: random.Random, n: int) -> tuple[str | bytes, bool]:
    """One malformed or out-of-place frame for a signed-in session of `kind`, and whether it
    must be refused (random field values can make a valid request by chance)."""
    frame = _frame(kind, rng, n)
    return frame, not isinstance(frame, Chance)


class Chance(str):
    """A frame that may be valid by chance."""


class ChanceBytes(bytes):
    """A binary frame that may be valid by chance."""


def _frame(kind: str, rng: random.Random, n: int) -> str | bytes:
    pick = rng.randrange(12)
    if pick == 0:
        return rng.randbytes(rng.randint(0, 200))
    if pick == 1:
        return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(0, 80)))
    if pick == 2:
        return rng.choice(['{"type":', "[1,2,3]", "null", '"hello"', "{}", '{"type":null}'])
    if pick == 3:
        return json.dumps({"type": f"no-such-{n % 7}", "id": n})
    if pick == 4:  # wrong field types
        raw = {"type": rng.choice(TAGS[kind]), "id": n}
        for f in rng.sample(FIELDS, 3):
            raw[f] = _value(rng)
        return Chance(json.dumps(raw))
    if pick == 5:
        raw = {"type": rng.choice(TAGS[kind]), "id": str(n), "x": 1}
        return ChanceBytes(msgspec.msgpack.encode(raw))
    if pick == 6:
        return rng.randbytes(70_000) if rng.random() < 0.05 else b"\xc1\xc1"
    # Well-formed but out of place.
    cid = f"fuzz-{n}"
    if kind == "agent":
        raw = rng.choice(
            [
                {"type": "accept", "id": n, "call_id": cid},
                {"type": "hangup", "id": n, "call_id": cid},
                {"type": "reject", "id": n, "call_id": cid},
                {"type": "hold", "id": n, "call_id": cid},
            ]
        )
    elif kind == "admin":
        raw = rng.choice(
            [
                {"type": "force_ready", "id": n, "agent_id": "nobody"},
                {"type": "assign_call", "id": n, "call_id": cid, "agent_id": "nobody"},
                {"type": "set_priority", "id": n, "call_id": cid, "priority": 1.0},
            ]
        )
    else:
        raw = rng.choice(
            [
                {"type": "digits", "id": n, "call_id": cid, "digits": "1"},
                {"type": "caller_hangup", "id": n, "call_id": cid},
                {"type": "agent_answered", "id": n, "call_id": cid, "agent_id": "1001"},
                {"type": "result", "seq": 10**9 + n, "ok": True},
                {"type": "hello", "id": n, "version": 1, "switch": "pbx-fuzz", "token": "x"},
            ]
        )
    return json.dumps(raw) if rng.random() < 0.5 else msgspec.msgpack.encode(raw)


def _decode(data: str | bytes) -> Any:
    try:
        return json.loads(data) if isinstance(data, str) else msgspec.msgpack.decode(data)
    except (ValueError, msgspec.DecodeError):
        return None


async def _reply(ws: ClientConnection, timeout: float = 5.0) -> tuple[str, str]:
    """(outcome, code): error, close, ok, silent, close_no_reason."""
    end = time.monotonic() + timeout
    try:
        while True:
            data = await asyncio.wait_for(ws.recv(), max(0.01, end - time.monotonic()))
            msg = _decode(data)
            if not isinstance(msg, dict):
                continue
            t = msg.get("type")
            if t == "error":
                code = str(msg.get("code") or "")
                return ("error", code) if code else ("error_no_code", "")
            if t == "ok":
                return "ok", ""
            # a push or a command: not an answer to our frame
    except TimeoutError:
        return "silent", ""
    except ConnectionClosed as err:
        rc = err.rcvd
        if rc is not None and rc.reason:
            return "close", str(rc.code)
        if rc is not None and rc.code == 1009:
            return "close", "1009"
        return "close_no_reason", str(rc.code if rc else "")


async def _sign_in(kind: str, ws: ClientConnection, user: str) -> None:
    if kind == "agent":
        await ws.send(json.dumps({"type": "hello", "id": 1, "version": 1, "client": "fuzz"}))
        await _reply(ws)
        await ws.send(
            json.dumps({"type": "sign_in", "id": 2, "agent_id": user, "secret": AGENT_SECRET})
        )
    elif kind == "admin":
        await ws.send(json.dumps({"type": "hello", "id": 1, "version": 1}))
        await _reply(ws)
        await ws.send(
            json.dumps({"type": "sign_in", "id": 2, "user": "admin", "secret": ADMIN_SECRET})
        )
    else:
        await ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "id": 1,
                    "version": 1,
                    "switch": "pbx-fuzz",
                    "token": SWITCH_TOKEN,
                }
            )
        )
    outcome, code = await _reply(ws)
    if outcome != "ok":
        raise RuntimeError(f"{kind} sign-in failed: {outcome} {code}")


async def attacker(kind: str, rig: Rig, budget: int, seed: int, tally: Tally, user: str) -> None:
    """Send `budget` bad frames on `/kind`, reconnecting after every close."""
    rng = random.Random(seed)
    url = f"{rig.base}/{kind}"
    n = 0
    outcomes = tally.outcomes[kind]
    while n < budget:
        async with connect(url, max_size=2**22, ping_interval=None, compression=None) as ws:
            if rng.random() < 0.1:  # a first frame that is not a hello
                await ws.send(bad_frame(kind, rng, n)[0])
                n += 1
                tally.sent[kind] += 1
                outcome, code = await _reply(ws)
                outcomes[outcome] += 1
                tally.codes[code] += 1
                continue
            await _sign_in(kind, ws, user)
            while n < budget:
                frame, must_fail = bad_frame(kind, rng, n)
                n += 1
                tally.sent[kind] += 1
                try:
                    await ws.send(frame)
                except ConnectionClosed:
                    outcomes["close"] += 1
                    break
                outcome, code = await _reply(ws)
                if outcome == "ok" and not must_fail:
                    outcome = "valid_by_chance"
                outcomes[outcome] += 1
                tally.codes[code] += 1
                bad = code == "internal" or outcome not in ("error", "close", "valid_by_chance")
                if bad and len(tally.findings) < 20:
                    tally.findings.append(f"{kind}: {outcome} {code} for {frame[:120]!r}")
                if outcome.startswith("close"):
                    break


@dataclass
class FuzzResult:
    """What the run measured."""

    tally: Tally
    clean_p50: float
    clean_p99: float
    fuzz_p50: float
    fuzz_p99: float
    clean_offers: int
    fuzz_offers: int
    alive: bool
    healthz: int
    fuzz_seconds: float
    violations: list[str]
    tracebacks: int


async def _load_until(sw: SimSwitch, rate: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await poisson(sw, rate, 1.0, CALLERS)


async def _drive(
    rig: Rig, frames: int, agents: int, rate: float, clean: float, seed: int
) -> FuzzResult:
    fleet = SimFleet(f"{rig.base}/agent", Behaviour(think=0.05, aht=1.0, acw=0.2), seed=seed)
    await fleet.start(rig.credentials(agents))
    sw = SimSwitch(f"{rig.base}/switch", "pbx-1", SWITCH_TOKEN, caller=Caller(), seed=seed)
    await sw.connect()
    stop = asyncio.Event()
    load = asyncio.create_task(_load_until(sw, rate, stop))
    await asyncio.sleep(clean)
    clean_lat = list(fleet.stats.latencies)
    fleet.stats.latencies.clear()
    tally = Tally()
    t0 = time.monotonic()
    per = frames // len(KINDS)
    spare = str(int(rig.credentials()[-1][0]))  # an agent the fleet does not use
    await asyncio.gather(
        *(
            attacker(kind, rig, per + (frames - per * 3 if i == 0 else 0), seed + i, tally, spare)
            for i, kind in enumerate(KINDS)
        )
    )
    fuzz_seconds = time.monotonic() - t0
    fuzz_lat = list(fleet.stats.latencies)
    stop.set()
    await load
    await sw.close()
    await fleet.stop()
    loop = asyncio.get_running_loop()
    status, _ = await loop.run_in_executor(None, rig.http, "/healthz")
    st, body = await loop.run_in_executor(None, rig.http, "/debug/state")
    violations = json.loads(body)["violations"] if st == 200 else ["no /debug/state"]
    from loadtest.sim_agents import FleetStats

    c, f = FleetStats(latencies=clean_lat), FleetStats(latencies=fuzz_lat)
    return FuzzResult(
        tally=tally,
        clean_p50=c.percentile(0.5),
        clean_p99=c.percentile(0.99),
        fuzz_p50=f.percentile(0.5),
        fuzz_p99=f.percentile(0.99),
        clean_offers=len(clean_lat),
        fuzz_offers=len(fuzz_lat),
        alive=rig.proc is not None and rig.proc.poll() is None,
        healthz=status,
        fuzz_seconds=fuzz_seconds,
        violations=violations,
        tracebacks=rig.log_tail(10**7).count("Traceback"),
    )


def run(
    folder: Path,
    frames: int = 3000,
    agents: int = 10,
    rate: float = 8.0,
    clean: float = 5.0,
    seed: int = 7,
) -> FuzzResult:
    """One clean phase then one fuzz phase against a fresh server in `folder`."""
    extra = '[switch.switches.pbx-fuzz]\ntoken = "{}"\n'
    from agent_gateway.auth import hash_secret

    rig = Rig.write(folder, agents=agents + 1)
    with rig.config.open("a") as f:
        f.write("\n" + extra.format(hash_secret(SWITCH_TOKEN, log_n=2)))
    rig.start()
    try:
        return asyncio.run(_drive(rig, frames, agents, rate, clean, seed))
    finally:
        rig.stop()


def main() -> int:
    """Print the figures."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100_000)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--rate", type=float, default=10.0, help="calls per second")
    p.add_argument("--clean", type=float, default=20.0, help="seconds of the clean phase")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        r = run(Path(tmp), args.frames, args.agents, args.rate, args.clean, args.seed)
    t = r.tally
    print(f"frames sent                {t.total} in {r.fuzz_seconds:.1f} s ({dict(t.sent)})")
    for kind in KINDS:
        print(f"  {kind:7} answered       {dict(t.outcomes[kind])}")
    print(f"error codes                {dict(t.codes.most_common(12))}")
    unanswered = sum(
        v
        for o in t.outcomes.values()
        for k, v in o.items()
        if k not in ("error", "close", "valid_by_chance")
    )
    print(f"not answered properly      {unanswered}")
    for f in t.findings:
        print(f"  finding: {f}")
    print(f"server alive / healthz     {r.alive} / {r.healthz}")
    print(f"tracebacks in server log   {r.tracebacks}")
    print(f"invariant violations       {len(r.violations)}")
    print(
        f"offer latency clean        p50 {r.clean_p50:.2f} ms  p99 {r.clean_p99:.2f} ms  "
        f"({r.clean_offers} offers)"
    )
    print(
        f"offer latency under fuzz   p50 {r.fuzz_p50:.2f} ms  p99 {r.fuzz_p99:.2f} ms  "
        f"({r.fuzz_offers} offers)"
    )
    ok = (
        r.alive
        and r.healthz == 200
        and unanswered == 0
        and not r.violations
        and t.codes["internal"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
