"""The inference log's counters, read at scrape time: the hook only bumps a plain integer."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import NamedTuple

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ebb.metrics import names


class LogCounts(NamedTuple):
    written: int
    dropped: int
    buffered: int


class InferenceLogCollector(Collector):
    def __init__(self, counts: Callable[[], LogCounts]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        counts = self._counts()
        yield CounterMetricFamily(names.INFERENCE_LOG_WRITTEN,
                                  "Inference records written to the inference log database.",
                                  value=counts.written)
        yield CounterMetricFamily(names.INFERENCE_LOG_DROPPED,
                                  "Inference records dropped: buffer full, database refusing "
                                  "rows, or unwritten at shutdown.", value=counts.dropped)
        yield GaugeMetricFamily(names.INFERENCE_LOG_BUFFERED,
                                "Inference records buffered in memory, waiting to be written.",
                                value=counts.buffered)
