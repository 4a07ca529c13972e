"""Random event sequences for the engine: a small center and an interpreter of 'intents'.

An intent is (op, x, y, dt): `op` picks what happens, `x` and `y` pick among the calls and
agents that exist at that moment, `dt` advances the clock first. Hypothesis shrinks lists of
intents; a plain seed makes a list too, so a failing seed replays exactly.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from types import MappingProxyType

from acd import events as ev
from acd.builders import agent, center, group
from acd.engine import Engine
from acd.errors import AcdError
from acd.events import Target, TargetKind
from acd.invariants import _eligible, violations
from acd.live import CallPhase
from acd.model import (
    CallbackPolicy,
    CenterConfig,
    Conditions,
    EntryAction,
    EntryRule,
    OverflowAction,
    OverflowRule,
    Strategy,
    WrapUp,
    WrapUpMode,
)
from acd.states import AgentState

Intent = tuple[int, int, int, float]
CITIES = ("gz", "sz", "fs")
BRANDS = ("vip", "gotone", "mzone", "easyown")


def chaos_config(version: str = "v1") -> CenterConfig:
    """Three groups with rules, city matching and every wrap-up mode; eight agents."""
    vip = group(
        "vip",
        ring_timeout=10.0,
        wrap_up=WrapUp(WrapUpMode.TIMED, 5.0),
        capacity=6,
        full=EntryRule(EntryAction.MOVE, target="general"),
        overflow=(
            OverflowRule("widen", Conditions(waited=8.0), OverflowAction.WIDEN, ("general",)),
            OverflowRule(
                "cb", Conditions(waited=20.0, no_agent_ready=True), OverflowAction.CALLBACK
            ),
            OverflowRule("mv", Conditions(waited=40.0), OverflowAction.MOVE, ("general",)),
        ),
        callback=CallbackPolicy(retry_delay=15.0, max_attempts=2),
        ageing_rate=2.0,
        ageing_cap=50.0,
        max_misses=2,
        reject_delay=3.0,
    )
    general = group(
        "general",
        ring_timeout=8.0,
        wrap_up=WrapUp(WrapUpMode.NONE, 0.0),
        strategy=Strategy.MOST_SKILLED,
        overflow=(
            OverflowRule("vm", Conditions(queue_length=5, waited=30.0), OverflowAction.VOICEMAIL),
        ),
    )
    billing = group(
        "billing",
        min_level=3,
        match=(("city", "cities"),),
        strategy=Strategy.LEAST_VERSATILE,
        wrap_up=WrapUp(WrapUpMode.MANDATORY, 0.0),
        overflow=(
            OverflowRule(
                "ring2", Conditions(waited=12.0), OverflowAction.WIDEN, ("billing",), min_level=1
            ),
        ),
    )
    agents = [
        agent("v1", {"vip": 8, "general": 5}, groups=["vip", "general"]),
        agent("v2", {"vip": 6}),
        agent("g1", {"general": 4}),
        agent("g2", {"general": 9, "billing": 2}, attributes={"cities": ["gz"]}),
        agent("b1", {"billing": 5}, attributes={"cities": ["gz", "sz"]}),
        agent("b2", {"billing": 7}, attributes={"cities": ["fs"]}),
        agent("b3", {"billing": 4, "general": 3}, attributes={"cities": list(CITIES)}),
        agent(
            "x1",
            {"vip": 3, "general": 3, "billing": 3},
            groups=["billing", "general", "vip"],
            attributes={"cities": ["sz"]},
        ),
    ]
    cfg = center([vip, general, billing], agents)
    return replace(cfg, version=version, wrapup_codes=MappingProxyType({"done": "Done"}))


def random_intents(seed: int, n: int) -> list[Intent]:
    """A reproducible list of intents."""
    rng = random.Random(seed)
    return [
        (
            rng.randrange(68),
            rng.randrange(1000),
            rng.randrange(1000),
            rng.choice((0.0, 0.5, 2.0, 7.0)),
        )
        for _ in range(n)
    ]


class Chaos:
    """Applies intents to an engine; refused events are part of the game."""

    def __init__(self, seed: int = 0) -> None:
        self.engine = Engine(chaos_config(), seed=seed)
        self.t = 0.0
        self.n = 0
        self.outputs: list[ev.Output] = []
        self.refused = 0

    def send(self, event: ev.Event) -> None:
        try:
            self.outputs.extend(self.engine.handle(event, self.t))
        except AcdError as err:
            self.outputs.extend(err.outputs)
            self.refused += 1

    def _restored(self) -> ev.CallInfo:
        """A call coming back after a restart, with its original arrival time."""
        self.n += 1
        return ev.CallInfo(f"c{self.n}", caller=f"139{self.n:05d}", brand="gotone")

    def apply(self, intent: Intent) -> None:
        op, x, y, dt = intent
        self.t += dt
        e = self.engine
        agents = sorted(e.agents)
        aid = agents[x % len(agents)]
        bid = agents[y % len(agents)]
        calls = sorted(e.calls)
        cid = calls[x % len(calls)] if calls else "none"
        groups = sorted(e.groups)
        gid = groups[y % len(groups)]
        k = op % 34
        # Requests about offers and calls mostly come from agents who have some.
        ringing = sorted(i for i, ag in e.agents.items() if ag.offer is not None)
        talking = sorted(i for i, ag in e.agents.items() if ag.calls)
        if k in (9, 10, 11, 12, 13) and ringing and y % 5:
            aid = ringing[x % len(ringing)]
        elif k in (15, 16, 17, 18, 19, 20, 31, 32) and talking and y % 5:
            aid = talking[x % len(talking)]
        a = e.agents[aid]
        offer = a.offer.id if a.offer is not None else cid
        on = a.calls[0].id if a.calls else cid
        if k <= 4:
            self.n += 1
            info = ev.CallInfo(
                f"c{self.n}",
                caller=f"138{y:05d}",
                brand=BRANDS[y % 4],
                vip=y % 3,
                attributes={"city": CITIES[x % 3]} if x % 4 else {},
                arrived_at=self.t,
            )
            self.send(ev.EnqueueCall(info, gid))
        elif k == 5:
            self.send(ev.AgentLogin(aid))
            self.send(ev.AgentReady(aid))
        elif k == 6:
            self.send(ev.AgentReady(aid))
        elif k == 7:
            self.send(ev.AgentNotReady(aid, "break"))
        elif k == 8:
            self.send(ev.AgentLogout(aid, actor="sup" if y % 2 else ""))
        elif k in (9, 10):
            self.send(ev.AcceptOffer(aid, offer))
        elif k == 11:
            self.send(ev.RejectOffer(aid, offer))
        elif k == 12:
            call = e.calls.get(offer)
            if call is not None and call.phase is CallPhase.CONNECTING:
                if call.kind.value in ("callback", "voicemail") or (call.agent is None):
                    self.send(ev.DialOutResult(offer, y % 3 != 0))
                else:
                    self.send(ev.AgentLegAnswered(offer, aid))
            else:
                self.send(ev.AgentLegAnswered(cid, aid))
        elif k == 13:
            self.send(ev.AgentLegFailed(offer, aid))
        elif k == 14:
            self.send(ev.CallerHangup(cid))
        elif k == 15:
            self.send(ev.AgentLegEnded(on, aid))
        elif k == 16:
            self.send(ev.AgentHold(aid, on, held=bool(y % 2)))
            self.send(ev.HoldChanged(on, bool(y % 2)))
        elif k == 17:
            kind = (TargetKind.GROUP, TargetKind.AGENT, TargetKind.EXTERNAL)[y % 3]
            value = {TargetKind.GROUP: gid, TargetKind.AGENT: bid, TargetKind.EXTERNAL: "95588"}[
                kind
            ]
            self.send(ev.BlindTransfer(aid, on, Target(kind, value)))
        elif k == 18:
            call = e.calls.get(on)
            if call is not None and call.transfer is not None:
                if y % 4 == 0:
                    self.send(ev.TransferFailed(on, "busy"))
                elif call.transfer[0].kind is TargetKind.EXTERNAL:
                    self.send(ev.TransferredOut(on))
                else:
                    self.send(ev.AgentLegEnded(on, call.transfer[1].id))
        elif k == 19:
            kind = (TargetKind.GROUP, TargetKind.AGENT, TargetKind.EXTERNAL)[y % 3]
            value = {TargetKind.GROUP: gid, TargetKind.AGENT: bid, TargetKind.EXTERNAL: "10010"}[
                kind
            ]
            self.send(ev.ConsultStart(aid, on, Target(kind, value), conference=bool(x % 2)))
        elif k == 20:
            call = e.calls.get(on)
            consult = call.consult if call is not None else None
            if (
                consult is not None
                and consult.phase is CallPhase.CONNECTING
                and consult.agent is None
            ):
                self.send(ev.DialOutResult(consult.id, bool(y % 2)))
            elif y % 3 == 0:
                self.send(ev.ConsultComplete(aid, on))
                self.send(ev.ConsultBridged(on, False))
            elif y % 3 == 1:
                self.send(ev.ConferenceMerge(aid, on))
                self.send(ev.ConsultBridged(on, True))
            else:
                self.send(ev.ConsultCancel(aid, on))
        elif k == 21:
            self.send(ev.CallbackChosen(cid, at=self.t + (y % 3) * 10.0 if y % 2 else None))
        elif k == 22:
            self.send(ev.VoicemailRecorded(cid, f"vm/{cid}"))
        elif k == 23:
            self.send(ev.FinishWrapUp(aid))
            self.send(ev.WrapUpCode(aid, "done", finish=True))
        elif k == 24:
            self.send(ev.AssignCall(cid, aid, "sup"))
        elif k == 25:
            self.send(ev.SetCallPriority(cid, float(y % 200), "sup"))
        elif k == 26:
            self.send(ev.MoveCall(cid, gid, "sup"))
        elif k == 27:
            self.send(ev.WithdrawCall(cid, ("voicemail", "callback")[y % 2], "sup"))
        elif k == 28:
            skills = {"vip": y % 11, "general": x % 11, "billing": (x + y) % 11}
            self.send(ev.SetAgentSkills(aid, "sup", skills=skills))
        elif k == 29:
            self.send(ev.AgentDisconnected(aid) if y % 2 else ev.AgentReconnected(aid))
        elif k == 30:
            if y % 7 == 0:
                self.send(ev.Reload(chaos_config(f"v{self.t}"), "admin"))
            else:
                self.send(ev.PauseGroup(gid, "sup", paused=bool(x % 2)))
        elif k == 32:
            self.send(ev.InterceptCall(on, "sup"))
        elif k == 33:
            self.send(ev.EnqueueCall(self._restored(), gid, priority=float(y % 150),
                                     queued_at=max(0.0, self.t - x % 60)))  # fmt: skip
        else:
            self.send(
                ev.SetPending(
                    aid,
                    (None, AgentState.READY, AgentState.NOT_READY, AgentState.LOGGED_OUT)[y % 4],
                    "lunch",
                )
            )
            self.send(ev.CallbackOutcome(aid, on, ("no_answer", "cancelled", "connected")[y % 3]))
            self.send(ev.ConferenceDrop(aid, on, bid))
            self.send(ev.Tick())


class InvariantBroken(AssertionError):
    """A chaos sequence broke an invariant of the engine."""


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise InvariantBroken(what)


def run_checked(items: list[Intent], seed: int = 0) -> Chaos:
    """Apply intents, checking every invariant after each one; `InvariantBroken` if not."""
    chaos = Chaos(seed)
    ended: Counter[str] = Counter()
    seen: set[str] = set()
    for i, intent in enumerate(items):
        before = len(chaos.outputs)
        chaos.apply(intent)
        new = chaos.outputs[before:]
        for o in new:
            if isinstance(o, ev.CallEnded):
                ended[o.call_id] += 1
            if isinstance(o, ev.CallQueued | ev.CallBlocked | ev.CallbackQueued):
                seen.add(o.call_id)
        # Offers are judged by today's skills; one made (by a timer) before a reload or a
        # skill change in the same step was judged by the skills it had then.
        changed = (ev.ConfigApplied, ev.AgentSkillsChanged)
        last = max((j for j, o in enumerate(new) if isinstance(o, changed)), default=-1)
        for o in new[last + 1 :]:
            if isinstance(o, ev.CallOffered):
                call = chaos.engine.calls.get(o.call_id)
                a = chaos.engine.agents.get(o.agent_id)
                if call is None or a is None or call.agent is not a:
                    continue  # the offer already fell through in the same step
                if not o.assigned_by and call.kind is not ev.CallKind.CONSULT:
                    _require(
                        _eligible(chaos.engine, a, call), f"step {i} {intent}: ineligible offer {o}"
                    )
        problems = violations(chaos.engine)
        _require(not problems, f"step {i} {intent}: {problems}")
    twice = [c for c, n in ended.items() if n > 1]
    _require(not twice, f"calls ended twice: {twice}")
    for cid in seen:
        _require((cid in chaos.engine.calls) != (ended[cid] == 1), f"call {cid} lost or kept")
    return chaos


def _run_range(args: tuple[int, int, int]) -> tuple[int, int, int, str]:
    """Run seeds [start, stop): (sequences, offers, refused events, first failure or '')."""
    start, stop, length = args
    offers = refused = 0
    for seed in range(start, stop):
        try:
            chaos = run_checked(random_intents(seed, length), seed)
        except InvariantBroken as err:
            return seed - start, offers, refused, f"seed {seed}: {err}"
        offers += sum(isinstance(o, ev.CallOffered) for o in chaos.outputs)
        refused += chaos.refused
    return stop - start, offers, refused, ""


def main(argv: list[str] | None = None) -> int:
    """`python -m loadtest.chaos`: many seeded sequences, invariants checked after each step."""
    import argparse
    import time
    from concurrent.futures import ProcessPoolExecutor

    p = argparse.ArgumentParser(description="Deterministic chaos in the routing core")
    p.add_argument("--sequences", type=int, default=100_000)
    p.add_argument("--length", type=int, default=150, help="intents per sequence")
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--replay", type=int, help="run one seed and print its failure, if any")
    args = p.parse_args(argv)
    if args.replay is not None:
        _, _, _, failure = _run_range((args.replay, args.replay + 1, args.length))
        print(failure or f"seed {args.replay}: every invariant holds")
        return 1 if failure else 0
    t0 = time.perf_counter()
    chunk = 500
    ranges = [
        (s, min(s + chunk, args.first_seed + args.sequences), args.length)
        for s in range(args.first_seed, args.first_seed + args.sequences, chunk)
    ]
    done = offers = refused = 0
    failures: list[str] = []
    with ProcessPoolExecutor(args.workers) as pool:
        for n, o, r, failure in pool.map(_run_range, ranges):
            done, offers, refused = done + n, offers + o, refused + r
            if failure:
                failures.append(failure)
    took = time.perf_counter() - t0
    print(
        f"{done:,} sequences of {args.length} intents in {took:.0f} s: {offers:,} offers, "
        f"{refused:,} events refused with a typed error, {len(failures)} broke an invariant"
    )
    for failure in failures:
        print(f"  {failure}  (replay: python -m loadtest.chaos --replay SEED)")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
