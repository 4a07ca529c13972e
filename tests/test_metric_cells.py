"""The plain-number metric families expose what prometheus-client's own would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from acd.metric_cells import Buckets, Counts

BOUNDS = (0.5, 1, 2, 5)
VALUES = (0.1, 0.5, 0.50001, 1, 3, 5, 5.5, 100, 0)


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in registry.collect()
        for s in fam.samples
        if not s.name.endswith("_created")
    }


def test_counts_and_buckets_match_prometheus_client() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    c = Counts("t_calls", "calls", ["queue", "result"], ours)
    c1 = Counts("t_one", "one label", ["queue"], ours)
    h = Buckets("t_wait_seconds", "wait", ["queue"], BOUNDS, ours)
    h0 = Buckets("t_talk_seconds", "talk", [], BOUNDS, ours)
    pc = Counter("t_calls", "calls", ["queue", "result"], registry=theirs)
    pc1 = Counter("t_one", "one label", ["queue"], registry=theirs)
    ph = Histogram("t_wait_seconds", "wait", ["queue"], buckets=BOUNDS, registry=theirs)
    ph0 = Histogram("t_talk_seconds", "talk", buckets=BOUNDS, registry=theirs)
    for i, v in enumerate(VALUES):
        q = "a" if i % 3 else "b"
        c.inc((q, "ok"))
        pc.labels(q, "ok").inc()
        c1.inc(q, v)
        pc1.labels(q).inc(v)
        h.observe(q, v)
        ph.labels(q).observe(v)
        h0.observe((), v)
        ph0.observe(v)
    assert _samples(ours) == _samples(theirs)
    assert c.value(("a", "ok")) == 6 and c.value(("z", "ok")) == 0
    text = generate_latest(ours).decode()
    assert 't_wait_seconds_bucket{le="0.5",queue="a"}' in text.replace(
        'queue="a",le="0.5"', 'le="0.5",queue="a"'
    )
    assert "t_calls_created" in text and "t_talk_seconds_created" in text


def test_an_unused_family_is_listed_without_series() -> None:
    reg = CollectorRegistry()
    Counts("t_blocked", "blocked", ["queue"], reg)
    Buckets("t_hold_seconds", "hold", [], BOUNDS, reg)
    text = generate_latest(reg).decode()
    assert "# TYPE t_blocked_total counter" in text
    assert "t_blocked_total{" not in text
    assert 't_hold_seconds_bucket{le="+Inf"} 0.0' in text
