"""Counters and histograms kept as plain numbers and turned into metric families at scrape.

prometheus-client's own metrics take a lock and go through a labelled child object on every
increment, which the output sink pays several times per call. These keep each labelled
series as a number in a dictionary (a histogram as a list of bucket counts and the sum), are
updated by the one thread that owns them, and are read by the registry only when /metrics is
scraped. The exposition is the same as prometheus-client's: `_total` and `_created` for
counters, cumulative `_bucket`, `_count`, `_sum` and `_created` for histograms.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

Key = tuple[str, ...]


class Counts(Collector):
    """A counter family: label values (a tuple, or a single string for one label) -> count.

    The hot path updates `values` directly (`v[k] = v.get(k, 0) + n`). A series appears once
    first counted, as with prometheus-client's labelled children; it counts from the family's
    creation (its `_created`).
    """

    def __init__(
        self, name: str, doc: str, labels: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self.name = name
        self.doc = doc
        self.labels = list(labels)
        self.values: dict[str | Key, float] = {}
        self.created = time.time()
        registry.register(self)

    def inc(self, key: str | Key, amount: float = 1.0) -> None:
        """Add `amount` to one series."""
        v = self.values
        v[key] = v.get(key, 0.0) + amount

    def value(self, key: str | Key) -> float:
        """The count of one series (0 when never counted)."""
        return self.values.get(key, 0.0)

    def collect(self) -> Iterator[Metric]:
        fam = CounterMetricFamily(self.name, self.doc, labels=self.labels)
        for key, v in list(self.values.items()):
            fam.add_metric([key] if isinstance(key, str) else list(key), v, created=self.created)
        yield fam

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily(self.name, self.doc, labels=self.labels)


class Buckets(Collector):
    """A histogram family: label values -> [count per bucket..., count above the last, sum].

    `observe` finds the bucket with one bisection; cumulative counts are made at scrape time.
    An unlabelled histogram has its one series from the start (key `()`).
    """

    def __init__(
        self,
        name: str,
        doc: str,
        labels: Sequence[str],
        bounds: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self.name = name
        self.doc = doc
        self.labels = list(labels)
        self.bounds = [float(b) for b in bounds]
        self.cells: dict[str | Key, list[float]] = {}
        if not self.labels:
            self.cells[()] = self.fresh()
        self.created = time.time()
        registry.register(self)

    def fresh(self) -> list[float]:
        """A series with nothing observed: one cell per bucket, one above, and the sum."""
        return [0.0] * (len(self.bounds) + 2)

    def observe(self, key: str | Key, value: float) -> None:
        """Count `value` in one series."""
        cells = self.cells.get(key)
        if cells is None:
            cells = self.cells[key] = self.fresh()
        cells[bisect_left(self.bounds, value)] += 1
        cells[-1] += value

    def collect(self) -> Iterator[Metric]:
        fam = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
        created = GaugeMetricFamily(self.name + "_created", self.doc, labels=self.labels)
        les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]  # type: ignore[no-untyped-call]
        for key, cells in list(self.cells.items()):
            labels = [key] if isinstance(key, str) else list(key)
            running = 0.0
            buckets = []
            for le, n in zip(les, cells, strict=False):
                running += n
                buckets.append((le, running))
            fam.add_metric(labels, buckets, cells[-1])
            created.add_metric(labels, self.created)
        yield fam
        yield created

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.doc, labels=self.labels)
