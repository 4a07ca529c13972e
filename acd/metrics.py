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
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Histogram, Info, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from acd import __version__
from acd import events as ev
from acd.events import CallKind
from acd.metric_cells import Buckets, Counts
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
_CONSULT = CallKind.CONSULT
_S = AgentState
_LOGGED_OUT = AgentState.LOGGED_OUT
_ON_CALL = AgentState.ON_CALL
_WRAP_UP = AgentState.WRAP_UP
_STATE_VALUE = {s: s.value for s in AgentState}  # an enum's `.value` is a slow property


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
        # Families fed by the output sink: plain numbers, read at scrape (acd.metric_cells).
        self.offered = Counts("acd_calls_offered", "Calls offered to the queue", ["queue"], r)
        self.answered = Counts("acd_calls_answered", "Calls answered", ["queue"], r)
        self.abandoned = Counts(
            "acd_calls_abandoned", "Calls abandoned while waiting or ringing", ["queue"], r
        )
        self.blocked = Counts(
            "acd_calls_blocked", "Calls refused because the queue was full", ["queue"], r
        )
        self.answered_sl = Counts(
            "acd_calls_answered_within_sl", "Calls answered within the queue's target",
            ["queue"], r,
        )  # fmt: skip
        self.abandoned_sl = Counts(
            "acd_calls_abandoned_within_sl", "Calls abandoned within the queue's target",
            ["queue"], r,
        )  # fmt: skip
        self.overflowed = Counts(
            "acd_calls_overflowed", "Overflow moves and widenings", ["from_queue", "to_queue"], r
        )
        self.callbacks = Counts(
            "acd_callbacks", "Callback tasks: queued, then each attempt's outcome",
            ["queue", "outcome"], r,
        )  # fmt: skip
        self.offers = Counts(
            "acd_offers", "Offers to agents by how they ended", ["queue", "result"], r
        )
        self.state_seconds = Counts(
            "acd_agent_state_seconds", "Agent time spent per state", ["state"], r
        )
        self.wait = Buckets(
            "acd_queue_wait_seconds", "Queue wait of answered and abandoned calls",
            ["queue", "outcome"], WAIT_BUCKETS, r,
        )  # fmt: skip
        self.handle = Buckets(
            "acd_handle_seconds", "Handle time (talk, hold and after-call work) per call",
            ["queue"], HANDLE_BUCKETS, r,
        )  # fmt: skip
        self.talk = Buckets(
            "acd_talk_seconds", "Talk time per call (hold excluded)", [], HANDLE_BUCKETS, r
        )
        self.hold = Buckets("acd_hold_seconds", "Hold time per answered call", [], WRAP_BUCKETS, r)
        self.wrapup = Buckets("acd_wrapup_seconds", "After-call work per call", [], WRAP_BUCKETS, r)
        self.latency = Buckets(
            "acd_offer_latency_seconds", "Core decision to offer frame written", [],
            LATENCY_BUCKETS, r,
        )  # fmt: skip
        self.errors = Counts(
            "acd_protocol_errors", "Protocol errors by side and code", ["kind", "code"], r
        )
        # Observed from the store's writer thread: prometheus-client's own (it locks).
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
        self._thresholds: dict[str, float] = {}  # group -> service-target seconds, per batch
        self._handlers: dict[type, Callable[[Any], None]] = {
            ev.AgentStateChanged: self._state,
            ev.CallQueued: self._queued,
            ev.OfferEnded: self._offer_ended,
            ev.CallAnswered: self._answered,
            ev.CallEnded: self._ended,
            ev.WrapUpEnded: self._wrap_ended,
            ev.CallAbandoned: self._abandoned,
            ev.CallBlocked: self._blocked,
            ev.CallOverflowed: self._overflowed,
            ev.CallbackQueued: self._callback_queued,
            ev.CallbackAttempted: self._callback_attempted,
        }

    # For the other sides ------------------------------------------------------------

    def offer_latency(self, seconds: float) -> None:
        """Core decision to the offer frame written (measured by the agent gateway)."""
        if seconds >= 0 and math.isfinite(seconds):
            self.latency.observe((), seconds)

    def protocol_error(self, kind: str, code: str) -> None:
        """A refused frame or request: `kind` is agent, admin or switch; `code` the error."""
        self.errors.inc((kind, code))

    def journal_commit(self, seconds: float, _count: int) -> None:
        """One group commit of the journal (called from the store's writer thread)."""
        self.commit.observe(seconds)

    # The output sink ----------------------------------------------------------------

    def record(self, outputs: Sequence[ev.Output]) -> None:
        """Count one batch of engine outputs."""
        handlers = self._handlers
        for o in outputs:
            h = handlers.get(type(o))
            if h is not None:
                h(o)

    threshold_of: Any = None  # set by the component: group id -> service-target seconds

    def _threshold(self, group: str) -> float:
        fn = self.threshold_of
        return float(fn(group)) if fn is not None else 20.0

    def _queued(self, o: ev.CallQueued) -> None:
        if o.kind is _INBOUND and not o.requeued and not getattr(o, "restored", False):
            v = self.offered.values
            v[o.group] = v.get(o.group, 0.0) + 1

    def _offer_ended(self, o: ev.OfferEnded) -> None:
        v = self.offers.values
        key = (o.group, o.result)
        v[key] = v.get(key, 0.0) + 1

    def _answered(self, o: ev.CallAnswered) -> None:
        self._group[o.agent_id] = o.group
        if o.kind is _INBOUND:
            g = o.group
            v = self.answered.values
            v[g] = v.get(g, 0.0) + 1
            if o.wait <= self._threshold(g):
                v = self.answered_sl.values
                v[g] = v.get(g, 0.0) + 1
            self.wait.observe((g, "answered"), o.wait)

    def _abandoned(self, o: ev.CallAbandoned) -> None:
        self.abandoned.inc(o.group)
        if o.wait <= self._threshold(o.group):
            self.abandoned_sl.inc(o.group)
        self.wait.observe((o.group, "abandoned"), o.wait)

    def _blocked(self, o: ev.CallBlocked) -> None:
        if o.reason == "full":
            self.offered.inc(o.group)
            self.blocked.inc(o.group)

    def _overflowed(self, o: ev.CallOverflowed) -> None:
        if o.from_group != o.to_group:
            self.overflowed.inc((o.from_group, o.to_group))

    def _callback_queued(self, o: ev.CallbackQueued) -> None:
        if o.attempt == 0:
            self.callbacks.inc((o.group, "queued"))

    def _callback_attempted(self, o: ev.CallbackAttempted) -> None:
        self.callbacks.inc((o.group, o.outcome))

    def _ended(self, o: ev.CallEnded) -> None:
        if o.answered_at is not None and o.kind is not _CONSULT:
            self.talk.observe((), max(0.0, o.talk - o.hold))
            self.hold.observe((), o.hold)

    def _wrap_ended(self, o: ev.WrapUpEnded) -> None:
        self.wrapup.observe((), o.seconds)
        talk = self._talk.pop(o.agent_id, 0.0)
        self.handle.observe(o.group, talk + o.seconds)

    def _state(self, o: ev.AgentStateChanged) -> None:
        aid, old, new, at = o.agent_id, o.old, o.new, o.at
        prev = self._states.get(aid)
        if prev is not None and prev[0] is old and at >= prev[1]:
            if old is new:
                return  # pending or reason change: the state's clock runs on
            v = self.state_seconds.values
            key = _STATE_VALUE[old]
            v[key] = v.get(key, 0.0) + (at - prev[1])
        elif old is new:
            return
        if new is _LOGGED_OUT:
            self._states.pop(aid, None)
        else:
            self._states[aid] = (new, at)
        if new is _ON_CALL:
            if old is not _ON_CALL:
                self._on_call[aid] = at
        elif old is _ON_CALL:
            talk = at - self._on_call.pop(aid, at)
            if new is _WRAP_UP:
                self._talk[aid] = talk
            else:
                group = self._group.get(aid)
                if group is not None:
                    self.handle.observe(group, talk)

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
