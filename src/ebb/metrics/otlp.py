"""Push the same metrics as OTLP/HTTP (protobuf), for CloudWatch, Google Cloud Monitoring and
Azure Monitor users whose OpenTelemetry collectors take OTLP rather than a Prometheus scrape.

The registry stays the single source: every ``interval_s`` its families are converted (gauges to
OTLP Gauges, counters to cumulative monotonic Sums, histograms to cumulative explicit-bucket
Histograms) and POSTed to ``<endpoint>/v1/metrics``.

A collector that is down is not hammered, nor is the log: after a failed push the next comes
after an exponentially growing delay (``retry_delay``: 2, 4, 8 ... intervals, at most
``MAX_BACKOFF_INTERVALS``), one warning says the outage began and one line says it ended.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

import httpx
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric

log = logging.getLogger("ebb.otlp")

MAX_BACKOFF_INTERVALS = 32
"""The longest wait between pushes during an outage, in push intervals."""

_CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def _attributes(labels: dict[str, str], skip: str = "") -> list[Any]:
    return [common_pb2.KeyValue(key=key, value=common_pb2.AnyValue(string_value=value))
            for key, value in sorted(labels.items()) if key != skip]


def to_otlp(families: Iterable[Metric], service_name: str, start_ns: int, now_ns: int
            ) -> Any:
    """An ExportMetricsServiceRequest holding every family (pure: no I/O)."""
    scope = metrics_pb2.ScopeMetrics(scope=common_pb2.InstrumentationScope(name="ebb"))
    for family in families:
        if family.type in ("gauge", "unknown"):
            metric = scope.metrics.add(name=family.name, description=family.documentation)
            for sample in family.samples:
                metric.gauge.data_points.add(time_unix_nano=now_ns, as_double=sample.value,
                                             attributes=_attributes(sample.labels))
        elif family.type == "counter":
            metric = scope.metrics.add(name=family.name + "_total",
                                       description=family.documentation)
            metric.sum.is_monotonic = True
            metric.sum.aggregation_temporality = _CUMULATIVE
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    metric.sum.data_points.add(
                        start_time_unix_nano=start_ns, time_unix_nano=now_ns,
                        as_double=sample.value, attributes=_attributes(sample.labels))
        elif family.type == "histogram":
            metric = scope.metrics.add(name=family.name, description=family.documentation)
            metric.histogram.aggregation_temporality = _CUMULATIVE
            for point in _histogram_points(family):
                metric.histogram.data_points.add(start_time_unix_nano=start_ns,
                                                 time_unix_nano=now_ns, **point)
    resource = metrics_pb2.ResourceMetrics(scope_metrics=[scope])
    resource.resource.attributes.append(common_pb2.KeyValue(
        key="service.name", value=common_pb2.AnyValue(string_value=service_name)))
    return metrics_service_pb2.ExportMetricsServiceRequest(resource_metrics=[resource])


def _histogram_points(family: Metric) -> list[dict[str, Any]]:
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for sample in family.samples:
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        key = tuple(sorted(labels.items()))
        entry = series.setdefault(key, {"labels": labels, "buckets": [], "sum": 0.0,
                                        "count": 0})
        if sample.name.endswith("_bucket"):
            entry["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_sum"):
            entry["sum"] = sample.value
        elif sample.name.endswith("_count"):
            entry["count"] = int(sample.value)
    points = []
    for entry in series.values():
        buckets = sorted(entry["buckets"])
        bounds = [bound for bound, _ in buckets if bound != float("inf")]
        cumulative = [count for _, count in buckets]
        per_bucket = [int(count - previous) for count, previous in
                      zip(cumulative, [0.0, *cumulative[:-1]], strict=True)]
        points.append({"attributes": _attributes(entry["labels"]), "count": entry["count"],
                       "sum": entry["sum"], "explicit_bounds": bounds,
                       "bucket_counts": per_bucket})
    return points


def retry_delay(failures: int, interval_s: float) -> float:
    """``interval_s`` when healthy; after ``failures`` consecutive failures, 2**failures
    intervals, capped at ``MAX_BACKOFF_INTERVALS``."""
    return interval_s * min(2.0 ** failures, MAX_BACKOFF_INTERVALS)


class OtlpExporter:
    """Blocking pushes; the server runs ``push`` in a thread so the event loop never waits."""

    def __init__(self, registry: CollectorRegistry, endpoint: str, service_name: str,
                 timeout_s: float = 5.0) -> None:
        self._registry = registry
        self._url = endpoint.rstrip("/") + "/v1/metrics"
        self._service_name = service_name
        self._client = httpx.Client(timeout=timeout_s)
        self._start_ns = time.time_ns()
        self.failures = 0
        """Consecutive failed pushes: 0 while the collector answers."""

    def push(self) -> bool:
        request = to_otlp(self._registry.collect(), self._service_name, self._start_ns,
                          time.time_ns())
        try:
            response = self._client.post(self._url, content=request.SerializeToString(),
                                         headers={"content-type": "application/x-protobuf"})
            response.raise_for_status()
        except httpx.HTTPError as error:
            self.failures += 1
            if self.failures == 1:
                log.warning("OTLP export to %s failed: %s; retrying with exponential backoff "
                            "(one line when it recovers)", self._url, error)
            return False
        if self.failures:
            log.info("OTLP export to %s recovered after %d failed pushes", self._url,
                     self.failures)
            self.failures = 0
        return True

    def retry_delay(self, interval_s: float) -> float:
        """How long to wait before the next push: the interval, doubled per failure."""
        return retry_delay(self.failures, interval_s)

    def close(self) -> None:
        self._client.close()
