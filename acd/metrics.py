"""Live metrics (component "metrics"): `GET /metrics` in the Prometheus text format.

Counters and histograms follow the engine's outputs; durations are differences of the outputs'
`at` times (the engine's injected clock), never a timer of this process. Gauges (calls
waiting, oldest wait, the current interval's service level, agents by state) are read from
the engine's live state at scrape time. Labels are bounded: queue, state, outcome, result,
kind, code; never a call or agent id. Everything lives on the component's own registry.

Conventions (docs/kpis.md): a call is *offered* to a queue each time it enters it (arrival,
overflow move, transfer to the group) and when the queue refuses it as full (blocked);
answered, abandoned and the within-SL counters are for inbound calls, with the group's
service-target seconds as threshold (answered at `wait <= T`); restored calls (after a
restart) are not offered again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from acd import __version__
from acd import events as ev
from acd.events import CallKind
from acd.states import AgentState

if TYPE_CHECKING:
    from acd.app import App

# Queue waits: 1 s to 15 min.
WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900)
HANDLE_BUCKETS = (10, 30, 60, 120, 180, 240, 300, 420, 600, 900, 1200, 1800, 3600)
WRAP_BUCKETS = (5, 10, 20, 30, 60, 90, 120, 180, 300, 600)
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)

_INBOUND = CallKind.INBOUND
_S = AgentState


class _Live(Collector):
    """Gauges computed from the engine at scrape time."""

    def __init__(self, app: App, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        app = self.app
        engine = app.engine
        now = app.core.now()
        waiting = GaugeMetricFamily(
            "acd_queue_calls_waiting", "Calls waiting in the queue (home group)", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "acd_queue_oldest_wait_seconds",
            "How long the longest-waiting call of the queue has waited",
            labels=["queue"],
        )
        sl = GaugeMetricFamily(
            "acd_queue_service_level_ratio",
            "Service level of the current interval: answered within T / (answered + "
            "abandoned after T)",
            labels=["queue"],
        )
        agents = GaugeMetricFamily(
            "acd_agents", "Signed-in agents of the queue by state", labels=["queue", "state"]
        )
        conns = GaugeMetricFamily(
            "acd_ws_connections", "Open websocket connections by kind", labels=["kind"]
        )
        for gid, g in engine.groups.items():
            waiting.add_metric([gid], len(g.home))
            first = min((c.wait_from for c in g.home.values()), default=None)
            oldest.add_metric([gid], 0.0 if first is None else max(0.0, now - first))
            iv = g.stats.interval
            if iv.start <= now < iv.end:  # read only: the engine rolls its own counters
                ratio = iv.service_level()
                if ratio is not None:
                    sl.add_metric([gid], ratio)
            for state in _S:
                if state is _S.LOGGED_OUT:
                    continue
                agents.add_metric([gid, state.value], g.counts.get(state, 0))
        for path, n in sorted(app.web.connections.items()):
            conns.add_metric([path.strip("/") or "root"], n)
        yield from (waiting, oldest, sl, agents, conns)

    def describe(self) -> list[Any]:
        return []


class Metrics:
    """The metric families and the output sink that feeds them."""

    name = "metrics"

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self.offered = Counter(
            "acd_calls_offered", "Calls offered to the queue", ["queue"], registry=r
        )
        self.answered = Counter("acd_calls_answered", "Calls answered", ["queue"], registry=r)
        self.abandoned = Counter(
            "acd_calls_abandoned", "Calls abandoned while waiting or ringing", ["queue"],
            registry=r,
        )  # fmt: skip
        self.blocked = Counter(
            "acd_calls_blocked", "Calls refused because the queue was full", ["queue"], registry=r
        )
        self.answered_sl = Counter(
            "acd_calls_answered_within_sl", "Calls answered within the queue's target",
            ["queue"], registry=r,
        )  # fmt: skip
        self.abandoned_sl = Counter(
            "acd_calls_abandoned_within_sl", "Calls abandoned within the queue's target",
            ["queue"], registry=r,
        )  # fmt: skip
        self.overflowed = Counter(
            "acd_calls_overflowed", "Overflow moves and widenings", ["from_queue", "to_queue"],
            registry=r,
        )  # fmt: skip
        self.callbacks = Counter(
            "acd_callbacks", "Callback tasks: queued, then each attempt's outcome",
            ["queue", "outcome"], registry=r,
        )  # fmt: skip
        self.offers = Counter(
            "acd_offers", "Offers to agents by how they ended", ["queue", "result"], registry=r
        )
        self.state_seconds = Counter(
            "acd_agent_state_seconds", "Agent time spent per state", ["state"], registry=r
        )
        self.wait = Histogram(
            "acd_queue_wait_seconds", "Queue wait of answered and abandoned calls",
            ["queue", "outcome"], buckets=WAIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.handle = Histogram(
            "acd_handle_seconds", "Handle time (talk, hold and after-call work) per call",
            ["queue"], buckets=HANDLE_BUCKETS, registry=r,
        )  # fmt: skip
        self.talk = Histogram(
            "acd_talk_seconds", "Talk time per call (hold excluded)", buckets=HANDLE_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.hold = Histogram(
            "acd_hold_seconds", "Hold time per answered call", buckets=WRAP_BUCKETS, registry=r
        )
        self.wrapup = Histogram(
            "acd_wrapup_seconds", "After-call work per call", buckets=WRAP_BUCKETS, registry=r
        )
        self.latency = Histogram(
            "acd_offer_latency_seconds", "Core decision to offer frame written",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.errors = Counter(
            "acd_protocol_errors", "Protocol errors by side and code", ["kind", "code"],
            registry=r,
        )  # fmt: skip
        self.commit = Histogram(
            "acd_journal_commit_seconds", "Time of one journal group commit",
            buckets=COMMIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.build = Info("acd_build", "Version of the server", registry=r)
        self.build.info({"version": __version__})
        # agent -> (state, since), for state seconds; agent -> talk of the call in wrap-up
        self._states: dict[str, tuple[AgentState, float]] = {}
        self._on_call: dict[str, float] = {}
        self._talk: dict[str, float] = {}
        self._group: dict[str, str] = {}  # agent -> group of its latest answered call

    # For the other sides ------------------------------------------------------------

    def offer_latency(self, seconds: float) -> None:
        """Core decision to the offer frame written (measured by the agent gateway)."""
        if seconds >= 0 and math.isfinite(seconds):
            self.latency.observe(seconds)

    def protocol_error(self, kind: str, code: str) -> None:
        """A refused frame or request: `kind` is agent, admin or switch; `code` the error."""
        self.errors.labels(kind, code).inc()

    def journal_commit(self, seconds: float, _count: int) -> None:
        """One group commit of the journal (called from the store's writer thread)."""
        self.commit.observe(seconds)

    # The output sink ----------------------------------------------------------------

    def record(self, outputs: Sequence[ev.Output]) -> None:
        """Count one batch of engine outputs."""
        for o in outputs:
            t = type(o)
            if t is ev.CallQueued:
                assert isinstance(o, ev.CallQueued)
                if o.kind is _INBOUND and not o.requeued and not getattr(o, "restored", False):
                    self._child(self.offered, o.group).inc()
            elif t is ev.CallOffered:
                pass
            elif t is ev.OfferEnded:
                assert isinstance(o, ev.OfferEnded)
                self._child(self.offers, o.group, o.result).inc()
            elif t is ev.AgentStateChanged:
                assert isinstance(o, ev.AgentStateChanged)
                self._state(o)
            elif t is ev.CallAnswered:
                assert isinstance(o, ev.CallAnswered)
                self._group[o.agent_id] = o.group
                if o.kind is _INBOUND:
                    self._child(self.answered, o.group).inc()
                    if o.wait <= self._threshold(o.group):
                        self._child(self.answered_sl, o.group).inc()
                    self._child(self.wait, o.group, "answered").observe(o.wait)
            elif t is ev.CallAbandoned:
                assert isinstance(o, ev.CallAbandoned)
                self._child(self.abandoned, o.group).inc()
                if o.wait <= self._threshold(o.group):
                    self._child(self.abandoned_sl, o.group).inc()
                self._child(self.wait, o.group, "abandoned").observe(o.wait)
            elif t is ev.CallBlocked:
                assert isinstance(o, ev.CallBlocked)
                if o.reason == "full":
                    self._child(self.offered, o.group).inc()
                    self._child(self.blocked, o.group).inc()
            elif t is ev.CallOverflowed:
                assert isinstance(o, ev.CallOverflowed)
                if o.from_group != o.to_group:
                    self._child(self.overflowed, o.from_group, o.to_group).inc()
            elif t is ev.CallbackQueued:
                assert isinstance(o, ev.CallbackQueued)
                if o.attempt == 0:
                    self._child(self.callbacks, o.group, "queued").inc()
            elif t is ev.CallbackAttempted:
                assert isinstance(o, ev.CallbackAttempted)
                self._child(self.callbacks, o.group, o.outcome).inc()
            elif t is ev.CallEnded:
                assert isinstance(o, ev.CallEnded)
                if o.answered_at is not None and o.kind is not CallKind.CONSULT:
                    self.talk.observe(max(0.0, o.talk - o.hold))
                    self.hold.observe(o.hold)
            elif t is ev.WrapUpEnded:
                assert isinstance(o, ev.WrapUpEnded)
                self.wrapup.observe(o.seconds)
                talk = self._talk.pop(o.agent_id, 0.0)
                self._child(self.handle, o.group).observe(talk + o.seconds)

    def _child(self, metric: Any, *values: str) -> Any:
        """`metric.labels(*values)`, looked up once (labels are bounded; none is removed)."""
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    threshold_of: Any = None  # set by the component: group id -> service-target seconds

    def _threshold(self, group: str) -> float:
        fn = self.threshold_of
        return float(fn(group)) if fn is not None else 20.0

    def _state(self, o: ev.AgentStateChanged) -> None:
        prev = self._states.get(o.agent_id)
        if prev is not None and prev[0] is o.old and o.at >= prev[1]:
            if o.old is o.new:
                return  # pending or reason change: the state's clock runs on
            self._child(self.state_seconds, o.old.value).inc(o.at - prev[1])
        elif o.old is o.new:
            return
        if o.new is _S.LOGGED_OUT:
            self._states.pop(o.agent_id, None)
        else:
            self._states[o.agent_id] = (o.new, o.at)
        if o.new is _S.ON_CALL and o.old is not _S.ON_CALL:
            self._on_call[o.agent_id] = o.at
        elif o.old is _S.ON_CALL and o.new is not _S.ON_CALL:
            talk = o.at - self._on_call.pop(o.agent_id, o.at)
            if o.new is _S.WRAP_UP:
                self._talk[o.agent_id] = talk
            else:
                group = self._group.get(o.agent_id)
                if group is not None:
                    self._child(self.handle, group).observe(talk)

    def exposition(self) -> bytes:
        """The text format of everything on the registry."""
        return generate_latest(self.registry)


class MetricsComponent(Metrics):
    """`Metrics` wired into a server: output sink, /metrics route, live gauges."""

    async def start(self, app: App) -> None:
        """Subscribe, register the live gauges and serve /metrics."""

        def threshold(gid: str) -> float:
            g = app.engine.groups.get(gid)
            return g.stats.threshold if g is not None else 20.0

        self.threshold_of = threshold
        self.registry.register(_Live(app, self))
        # process_cpu_seconds_total, process_resident_memory_bytes...: what a load test run
        # against this server reads to report its CPU (standard Prometheus process metrics)
        ProcessCollector(registry=self.registry)
        app.core.subscribe(self.record)
        journal = app.component("journal")
        hooks = getattr(journal, "commit_hooks", None)
        if isinstance(hooks, list):
            hooks.append(self.journal_commit)
        app.web.http_route("/metrics", lambda _r: (200, CONTENT_TYPE_LATEST, self.exposition()))

    async def stop(self, app: App) -> None:
        """Nothing to release."""


def component(app: App) -> MetricsComponent:
    """The factory listed in `acd.app.COMPONENTS`."""
    return MetricsComponent()
