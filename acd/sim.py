"""Discrete-event driver: the real engine with a simulated clock and simulated people.

A heap of (time, seq, action) plays callers and agents around an `Engine`; the engine's own
deadlines are merged in, so an hour of a large center runs in seconds with the exact code that
runs in production. Callers arrive as a Poisson stream, wait with exponential patience; agents
accept after a think time (or miss a share of offers), talk for a sampled handle time and take
after-call work. Everything is seeded: the same scenario gives the same figures.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from acd import events as ev
from acd.engine import Engine
from acd.errors import AcdError
from acd.live import CallPhase
from acd.model import (
    SYSTEM_REASONS,
    AgentConfig,
    CenterConfig,
    Priorities,
    ServiceTarget,
    SkillGroup,
    WrapUp,
    WrapUpMode,
)
from acd.states import AgentState

# Arrivals whose estimated wait is checked against their actual one: all of them while their
# queue is shorter than this, then one in every len(queue) // EWT_SAMPLE (see `_arrive`).
EWT_SAMPLE = 64


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to simulate. Durations in seconds, rate in calls per second."""

    agents: int = 50
    rate: float = 0.2
    aht: float = 180.0  # mean talk time
    handle_dist: str = "exp"  # exp | lognormal (lognormal: sigma 0.8)
    acw: float = 0.0  # mean after-call work (exponential); 0 = none
    patience: float = 0.0  # mean patience (exponential); 0 = callers never hang up
    duration: float = 3600.0  # arrivals stop here; the run then drains
    warmup: float = 0.0  # calls arriving earlier are not counted
    sl_threshold: float = 20.0
    seed: int = 1
    brand_mix: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    think: float = 0.0  # seconds from offer to accept
    miss_rate: float = 0.0  # share of offers rejected (half) or left ringing (half)
    not_ready_every: float = 0.0  # mean seconds between short breaks per agent; 0 = never
    break_length: float = 300.0
    callback_answer_rate: float = 0.8
    group: str = ""  # group to queue in; default the config's first
    routes: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # brand->group
    cities: tuple[str, ...] = ()  # each call gets one at random as its `city` attribute


def fifo_config(agents: int, sl_threshold: float = 20.0, acw: bool = False) -> CenterConfig:
    """One FIFO group served by every agent: the case queueing theory describes."""
    wrap = WrapUp(WrapUpMode.TIMED, 1e9) if acw else WrapUp(WrapUpMode.NONE, 0.0)
    group = SkillGroup(
        id="default",
        name="Default",
        skill="default",
        target=ServiceTarget(0.8, sl_threshold),
        ring_timeout=1e9,
        wrap_up=wrap,
        ageing_rate=0.0,
        reject_delay=0.0,
        max_misses=1_000_000,
    )
    agent_cfgs = {
        f"a{i}": AgentConfig(
            id=f"a{i}",
            number=str(1000 + i),
            skills=MappingProxyType({"default": 5}),
            endpoint=f"sim:a{i}",
        )
        for i in range(1, agents + 1)
    }
    return CenterConfig(
        name="fifo",
        sl_threshold=sl_threshold,
        priorities=Priorities(),
        reasons=MappingProxyType({**SYSTEM_REASONS, "break": "Short break"}),
        groups=MappingProxyType({"default": group}),
        agents=MappingProxyType(agent_cfgs),
    )


@dataclass(slots=True)
class SimResult:
    """Measured figures (calls arriving in [warmup, duration))."""

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    blocked: int = 0
    wait_answered: float = 0.0
    wait_abandoned: float = 0.0
    handled: int = 0
    handle_time: float = 0.0
    busy_time: float = 0.0  # agent-seconds reserved, talking or in wrap-up, after warm-up
    staffed_time: float = 0.0  # agent-seconds signed in and not NOT_READY, after warm-up
    window: float = 0.0
    events: int = 0
    ewt_error_sum: float = 0.0
    ewt_abs_error_sum: float = 0.0
    ewt_samples: int = 0
    callbacks: int = 0
    overflowed: int = 0

    @property
    def service_level(self) -> float:
        """Answered within the threshold / offered."""
        return self.answered_within / self.offered if self.offered else 0.0

    @property
    def asa(self) -> float:
        """Mean wait of answered calls."""
        return self.wait_answered / self.answered if self.answered else 0.0

    @property
    def abandon_rate(self) -> float:
        """Abandoned / offered."""
        return self.abandoned / self.offered if self.offered else 0.0

    @property
    def aht(self) -> float:
        """Mean talk + after-call work of handled calls."""
        return self.handle_time / self.handled if self.handled else 0.0

    @property
    def occupancy(self) -> float:
        """Busy agent time / staffed agent time."""
        return self.busy_time / self.staffed_time if self.staffed_time else 0.0

    @property
    def ewt_bias(self) -> float:
        """Mean (estimated - actual) wait of answered calls that waited."""
        return self.ewt_error_sum / self.ewt_samples if self.ewt_samples else 0.0

    @property
    def ewt_mae(self) -> float:
        """Mean absolute error of the estimated wait."""
        return self.ewt_abs_error_sum / self.ewt_samples if self.ewt_samples else 0.0

    def to_json(self) -> dict[str, float | int]:
        """The figures under the names the load-test tool prints."""
        return {
            "offered": self.offered,
            "answered": self.answered,
            "abandoned": self.abandoned,
            "blocked": self.blocked,
            "service_level": self.service_level,
            "asa_seconds": self.asa,
            "abandon_rate": self.abandon_rate,
            "aht_seconds": self.aht,
            "occupancy": self.occupancy,
            "calls_per_second": self.offered / self.window if self.window else 0.0,
            "ewt_mae_seconds": self.ewt_mae,
            "ewt_bias_seconds": self.ewt_bias,
            "engine_events": self.events,
        }


class Simulation:
    """One run of a scenario through a real engine."""

    def __init__(self, scenario: Scenario, config: CenterConfig | None = None) -> None:
        self.sc = scenario
        self.config = config or fifo_config(
            scenario.agents, scenario.sl_threshold, scenario.acw > 0
        )
        self.engine = Engine(self.config, seed=scenario.seed)
        self.rng = random.Random(scenario.seed)
        self.heap: list[tuple[float, int, Callable[..., object], tuple[object, ...]]] = []
        self.seq = itertools.count()
        self.now = 0.0
        self.result = SimResult()
        self.group = scenario.group or next(iter(self.config.groups))
        # Breaks use "break", or the first reason the center defines for agents.
        own = [r for r in self.config.reasons if r not in SYSTEM_REASONS]
        self.break_reason = "break" if "break" in self.config.reasons or not own else own[0]
        self.counted: set[str] = set()
        self.arrival: dict[str, float] = {}
        self.estimate: dict[str, float] = {}
        self._since_estimate = 0  # arrivals since the last one whose wait was estimated
        self.agent_ids = list(self.config.agents)[: scenario.agents]
        self._busy_since: dict[str, float] = {}
        self._staffed_since: dict[str, float] = {}
        self._call_ids = itertools.count(1)
        self._brands = list(scenario.brand_mix.items())
        self._talk: dict[str, float] = {}
        self.observers: list[Callable[[ev.Output], None]] = []

    # -- scheduling ----------------------------------------------------------------

    def at(self, t: float, fn: Callable[..., object], *args: object) -> None:
        """Run `fn(t, *args)` at simulated time t."""
        heapq.heappush(self.heap, (t, next(self.seq), fn, args))

    def later(self, t: float, event: ev.Event) -> None:
        """Give the engine `event` at simulated time t."""
        self.at(t, self._send_at, event)

    def _send_at(self, t: float, event: ev.Event) -> None:
        self.send(event, t)

    def send(self, event: ev.Event, t: float) -> bool:
        """Give the engine an event; False when it refused it (that is fine in a world of
        independent people: the caller hung up while the agent clicked accept, say)."""
        try:
            outs = self.engine.handle(event, t)
        except AcdError as err:
            self.react(err.outputs)
            return False
        self.react(outs)
        return True

    def run(self, progress: Callable[[float], None] | None = None) -> SimResult:
        """Run to the end of the scenario and drain; return the figures.

        `progress(t)` is called now and then with the simulated time reached.
        """
        sc = self.sc
        steps = 0
        for i, aid in enumerate(self.agent_ids):
            t0 = i * 1e-6
            self.later(t0, ev.AgentLogin(aid))
            self.later(t0, ev.AgentReady(aid))
            if sc.not_ready_every > 0:
                self.at(self._exp(sc.not_ready_every), self._take_break, aid)
        if sc.rate > 0:
            self.at(self._exp(1.0 / sc.rate), self._arrive)
        engine = self.engine
        while True:
            t_world = self.heap[0][0] if self.heap else math.inf
            deadline = engine.next_deadline()
            t_engine = math.inf if deadline is None else deadline
            t = min(t_world, t_engine)
            if t == math.inf or (t > sc.duration and not engine.calls):
                break
            self.now = t
            steps += 1
            if progress is not None and steps % 5000 == 0:
                progress(t)
            if t_engine < t_world:
                self.react(engine.advance(t))
                continue
            _, _, fn, args = heapq.heappop(self.heap)
            fn(t, *args)
        end = max(self.now, sc.duration)
        self._close_intervals(end)
        self.result.window = sc.duration - sc.warmup
        return self.result

    def _exp(self, mean: float) -> float:
        return self.rng.expovariate(1.0 / mean) if mean > 0 else 0.0

    def _handle_time(self) -> float:
        sc = self.sc
        if sc.handle_dist == "lognormal":
            sigma = 0.8
            mu = math.log(sc.aht) - sigma * sigma / 2
            return self.rng.lognormvariate(mu, sigma)
        return self._exp(sc.aht)

    # -- callers ---------------------------------------------------------------------

    def _arrive(self, t: float) -> None:
        sc = self.sc
        if t >= sc.duration:
            return
        self.at(t + self._exp(1.0 / sc.rate), self._arrive)
        cid = f"c{next(self._call_ids)}"
        brand, vip = "", 0
        if self._brands:
            x = self.rng.random() * sum(w for _, w in self._brands)
            for name, w in self._brands:
                x -= w
                if x <= 0:
                    brand = name
                    break
            vip = 1 if brand == "vip" else 0
        attrs = {"city": self.rng.choice(sc.cities)} if sc.cities else {}
        info = ev.CallInfo(
            id=cid,
            caller=f"1380000{next(self._call_ids) % 10000:04d}",
            brand=brand,
            vip=vip,
            attributes=attrs,
            arrived_at=t,
        )
        if t >= sc.warmup:
            self.counted.add(cid)
            self.result.offered += 1
        self.arrival[cid] = t
        if not self.send(ev.EnqueueCall(info, sc.routes.get(brand, self.group)), t):
            return
        call = self.engine.calls.get(cid)
        if call is not None and call.phase is CallPhase.QUEUED and cid in self.counted:
            # A place costs a pass over the queue: in a long one (a storm) only one arrival in
            # every len // EWT_SAMPLE is estimated, chosen by count (an unbiased sample), so an
            # overloaded hour stays linear instead of quadratic in the queue.
            self._since_estimate += 1
            if self._since_estimate > len(call.home.home) // EWT_SAMPLE:
                self._since_estimate = 0
                est = self.engine.estimated_wait(cid)
                if math.isfinite(est):
                    self.estimate[cid] = est
        if sc.patience > 0:
            self.at(t + self._exp(sc.patience), self._give_up, cid)

    def _give_up(self, t: float, cid: str) -> None:
        call = self.engine.calls.get(cid)
        if call is None or not call.caller_present:
            return
        if call.phase in (CallPhase.QUEUED, CallPhase.ASSIGNED, CallPhase.OFFERED):
            self.send(ev.CallerHangup(cid), t)

    # -- agents ----------------------------------------------------------------------

    def _take_break(self, t: float, aid: str) -> None:
        sc = self.sc
        if t < sc.duration:
            self.at(t + self._exp(sc.not_ready_every), self._take_break, aid)
        agent = self.engine.agents[aid]
        if agent.state is AgentState.READY:
            self.send(ev.AgentNotReady(aid, self.break_reason), t)
        elif agent.state in (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP):
            self.send(ev.SetPending(aid, AgentState.NOT_READY, self.break_reason), t)
        else:
            return
        self.at(t + self._exp(sc.break_length), self._back, aid)

    def _back(self, t: float, aid: str) -> None:
        agent = self.engine.agents[aid]
        if agent.state is AgentState.NOT_READY:
            self.send(ev.AgentReady(aid), t)
        elif agent.pending is not None:
            self.send(ev.SetPending(aid, None), t)

    def react(self, outs: list[ev.Output]) -> None:
        """Simulated people and switch respond to what the engine decided."""
        sc = self.sc
        rng = self.rng
        self.result.events += 1
        for o in outs:
            for obs in self.observers:
                obs(o)
            if isinstance(o, ev.CallOffered):
                aid, cid = o.agent_id, o.call_id
                if sc.miss_rate and rng.random() < sc.miss_rate:
                    if rng.random() < 0.5:
                        self.later(o.at + sc.think, ev.RejectOffer(aid, cid))
                    continue  # else let it ring out
                self.later(o.at + sc.think, ev.AcceptOffer(aid, cid))
            elif isinstance(o, ev.ConnectAgent):
                self.later(o.at, ev.AgentLegAnswered(o.call_id, o.agent_id))
            elif isinstance(o, ev.DialOut):
                ok = rng.random() < sc.callback_answer_rate
                self.later(o.at + 5.0, ev.DialOutResult(o.call_id, ok, "" if ok else "no_answer"))
            elif isinstance(o, ev.CallAnswered):
                self._on_answered(o)
            elif isinstance(o, ev.DropLeg):
                self.later(o.at, ev.AgentLegEnded(o.call_id, o.party))
            elif isinstance(o, ev.RecordVoicemail):
                self.later(o.at + 30.0, ev.VoicemailRecorded(o.call_id, f"vm:{o.call_id}"))
            elif isinstance(o, ev.CallAbandoned):
                if o.call_id in self.counted:
                    self.result.abandoned += 1
                    self.result.wait_abandoned += o.wait
            elif isinstance(o, ev.CallBlocked):
                if o.call_id in self.counted and o.reason == "full":
                    self.result.blocked += 1
            elif isinstance(o, ev.CallOverflowed):
                if o.call_id in self.counted:
                    self.result.overflowed += 1
            elif isinstance(o, ev.CallbackQueued):
                if o.call_id in self.counted:
                    self.result.callbacks += 1
            elif isinstance(o, ev.AgentStateChanged):
                self._on_state(o)
            elif isinstance(o, ev.WrapUpEnded):
                self._handled(o.call_id, o.agent_id, o.seconds)

    def _on_answered(self, o: ev.CallAnswered) -> None:
        cid, aid = o.call_id, o.agent_id
        if o.kind is ev.CallKind.INBOUND and cid in self.counted:
            r = self.result
            r.answered += 1
            r.wait_answered += o.wait
            if o.wait <= self.sc.sl_threshold:
                r.answered_within += 1
            est = self.estimate.pop(cid, None)
            if est is not None:
                err = est - o.wait
                r.ewt_error_sum += err
                r.ewt_abs_error_sum += abs(err)
                r.ewt_samples += 1
        talk = self._handle_time()
        self._talk[f"{cid}/{aid}"] = talk
        self.at(o.at + talk, self._hang_up, cid, aid)

    def _hang_up(self, t: float, cid: str, aid: str) -> None:
        call = self.engine.calls.get(cid)
        if call is None or all(a.id != aid for a in call.agents):
            return
        self.send(ev.AgentLegEnded(cid, aid), t)
        if self.sc.acw <= 0 and self.engine.agents[aid].state is not AgentState.WRAP_UP:
            self._handled(cid, aid, 0.0)
        elif self.engine.agents[aid].state is AgentState.WRAP_UP:
            self.at(t + self._exp(self.sc.acw), self._finish_wrap, aid)

    def _finish_wrap(self, t: float, aid: str) -> None:
        if self.engine.agents[aid].state is AgentState.WRAP_UP:
            self.send(ev.FinishWrapUp(aid), t)

    def _handled(self, cid: str, aid: str, acw: float) -> None:
        talk = self._talk.pop(f"{cid}/{aid}", None)
        if talk is not None and cid in self.counted:
            self.result.handled += 1
            self.result.handle_time += talk + acw

    def _on_state(self, o: ev.AgentStateChanged) -> None:
        aid = o.agent_id
        busy = (AgentState.RESERVED, AgentState.ON_CALL, AgentState.WRAP_UP)
        staffed = (AgentState.READY, *busy)
        self._interval(self._busy_since, aid, o.old in busy, o.new in busy, o.at, True)
        self._interval(self._staffed_since, aid, o.old in staffed, o.new in staffed, o.at, False)
        if o.new is AgentState.NOT_READY and o.reason in ("no-answer", "rejected"):
            # a simulated agent who missed offers comes back after a short pause
            self.at(o.at + 10.0, self._back, aid)

    def _interval(
        self, since: dict[str, float], aid: str, was: bool, now_in: bool, t: float, busy: bool
    ) -> None:
        if was == now_in:
            return
        if now_in:
            since[aid] = t
            return
        start = since.pop(aid, t)
        self._add_span(start, t, busy)

    def _add_span(self, start: float, end: float, busy: bool) -> None:
        lo = max(start, self.sc.warmup)
        hi = min(end, self.sc.duration)
        if hi > lo:
            if busy:
                self.result.busy_time += hi - lo
            else:
                self.result.staffed_time += hi - lo

    def _close_intervals(self, end: float) -> None:
        for start in self._busy_since.values():
            self._add_span(start, end, True)
        for start in self._staffed_since.values():
            self._add_span(start, end, False)
        self._busy_since.clear()
        self._staffed_since.clear()


def simulate(scenario: Scenario, config: CenterConfig | None = None) -> SimResult:
    """Run a scenario and return its measured figures."""
    return Simulation(scenario, config).run()
