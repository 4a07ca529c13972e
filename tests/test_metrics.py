"""GET /metrics on a real server after a scenario, parsed back with prometheus_client."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from core_harness import agent, center, group
from prometheus_client.parser import text_string_to_metric_families

from acd import events as ev
from acd.app import App
from acd.metrics import MetricsComponent
from acd.settings import ServerSettings, Settings

NAMES = [
    "acd_calls_offered", "acd_calls_answered", "acd_calls_abandoned", "acd_calls_blocked",
    "acd_calls_answered_within_sl", "acd_calls_abandoned_within_sl", "acd_calls_overflowed",
    "acd_callbacks", "acd_offers", "acd_queue_calls_waiting", "acd_queue_oldest_wait_seconds",
    "acd_queue_service_level_ratio", "acd_agents", "acd_agent_state_seconds",
    "acd_queue_wait_seconds", "acd_handle_seconds", "acd_talk_seconds", "acd_hold_seconds",
    "acd_wrapup_seconds", "acd_offer_latency_seconds", "acd_ws_connections",
    "acd_protocol_errors", "acd_journal_commit_seconds", "acd_build_info",
]  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.t = 1_699_999_200.0  # an interval boundary: the scenario stays in one interval

    def __call__(self) -> float:
        return self.t


def get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return str(r.read().decode())


async def test_metrics_exposition_after_a_scenario(tmp_path: Path) -> None:
    cfg = center(
        [group("g", capacity=1, wrap_up=__import__("acd.model").model.WrapUp(seconds=30))],
        [agent("a1", {"g": 5}), agent("a2", {"g": 5})],
    )
    clock = Clock()
    app = App(Settings(cfg, {"server": ServerSettings()}), port=0, data_dir=tmp_path, clock=clock)
    await app.start()
    try:
        s = app.core.submit
        s(ev.AgentLogin("a1"))
        s(ev.AgentReady("a1"))
        s(ev.AgentLogin("a2"))  # signed in, not ready
        s(ev.EnqueueCall(ev.CallInfo("c1", caller="1"), "g"))
        clock.t += 3
        s(ev.AcceptOffer("a1", "c1"))
        s(ev.AgentLegAnswered("c1", "a1"))  # waited 3 s
        clock.t += 40
        s(ev.HoldChanged("c1", True))
        clock.t += 20
        s(ev.HoldChanged("c1", False))
        clock.t += 60
        s(ev.CallerHangup("c1"))  # 120 s connected, 20 s on hold
        clock.t += 12
        s(ev.FinishWrapUp("a1"))
        s(ev.AgentNotReady("a1", "break"))
        s(ev.EnqueueCall(ev.CallInfo("c2", caller="2"), "g"))  # nobody ready: waits
        s(ev.EnqueueCall(ev.CallInfo("c3", caller="3"), "g"))  # the queue is full: blocked
        clock.t += 25
        s(ev.CallerHangup("c2"))  # abandoned after 25 s
        s(ev.EnqueueCall(ev.CallInfo("c4", caller="4"), "g"))
        clock.t += 7
        metrics = app.component("metrics")
        assert isinstance(metrics, MetricsComponent)
        metrics.offer_latency(0.003)
        metrics.protocol_error("agent", "bad_frame")
        await app.component("journal").barrier()  # type: ignore[union-attr]
        text = await asyncio.to_thread(get, app.web.port, "/metrics")
    finally:
        await app.stop()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    for name in NAMES:
        assert name in fams, name
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples
    }

    def v(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert v("acd_calls_offered_total", queue="g") == 4  # c1, c2, c4 and c3 blocked
    assert v("acd_calls_blocked_total", queue="g") == 1
    assert v("acd_calls_answered_total", queue="g") == 1
    assert v("acd_calls_answered_within_sl_total", queue="g") == 1
    assert v("acd_calls_abandoned_total", queue="g") == 1
    assert ("acd_calls_abandoned_within_sl_total", (("queue", "g"),)) not in samples
    assert v("acd_offers_total", queue="g", result="accepted") == 1
    assert v("acd_queue_wait_seconds_sum", queue="g", outcome="answered") == 3
    assert v("acd_queue_wait_seconds_sum", queue="g", outcome="abandoned") == 25
    assert v("acd_queue_wait_seconds_bucket", queue="g", outcome="abandoned", le="20.0") == 0
    assert v("acd_talk_seconds_sum") == 100 and v("acd_hold_seconds_sum") == 20
    assert v("acd_wrapup_seconds_sum") == 12
    assert v("acd_handle_seconds_sum", queue="g") == 132
    assert v("acd_agent_state_seconds_total", state="on_call") == 120
    assert v("acd_queue_calls_waiting", queue="g") == 1
    assert v("acd_queue_oldest_wait_seconds", queue="g") == 7
    assert v("acd_queue_service_level_ratio", queue="g") == 0.5  # 1 / (1 + 1 after T)
    assert v("acd_agents", queue="g", state="not_ready") == 2
    assert v("acd_offer_latency_seconds_count") == 1
    assert v("acd_protocol_errors_total", kind="agent", code="bad_frame") == 1
    assert v("acd_journal_commit_seconds_count") >= 1
    assert v("acd_build_info", version=__import__("acd").__version__) == 1
    for key in samples:  # no call or agent ids as labels
        assert not any(val in ("c1", "c2", "a1", "a2") for _k, val in key[1])
