"""Per-event instruments, built on an injected registry. Implements serving's observer seams."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from ebb.metrics import names


class ServingMetrics:
    """Histograms and counters updated as requests and batches finish.

    Label children are cached, so recording costs a dict lookup and a lock, not a label parse.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(names.REQUESTS, "Requests answered, by protocol and status code.",
                                ["model", "protocol", "code"], registry=registry)
        self.request_duration = Histogram(
            names.REQUEST_DURATION, "Time from decoded request to encoded answer.",
            ["model", "protocol"], buckets=names.LATENCY_BUCKETS, registry=registry)
        self.queue_wait = Histogram(
            names.QUEUE_WAIT, "Time a request waited in the queue before a worker took it.",
            ["model"], buckets=names.LATENCY_BUCKETS, registry=registry)
        self.inference_duration = Histogram(
            names.INFERENCE_DURATION, "Time a worker spent running one batch.",
            ["model"], buckets=names.LATENCY_BUCKETS, registry=registry)
        self.batch_size = Histogram(
            names.BATCH_SIZE, "Requests per batch.", ["model"], buckets=names.BATCH_BUCKETS,
            registry=registry)
        self.worker_start = Histogram(
            names.WORKER_START, "Cold start: worker process spawn to model loaded and ready.",
            ["model"], buckets=names.START_BUCKETS, registry=registry)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._batch_children: dict[str, tuple[Histogram, Histogram, Histogram]] = {}

    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        key = (model, protocol, code)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(model, protocol, str(code)),
                        self.request_duration.labels(model, protocol))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        children = self._batch_children.get(model)
        if children is None:
            children = self._batch_children[model] = (
                self.inference_duration.labels(model), self.batch_size.labels(model),
                self.queue_wait.labels(model))
        duration, size, wait = children
        duration.observe(seconds)
        size.observe(requests)
        for waited in queue_waits:
            wait.observe(waited if waited > 0.0 else 0.0)

    def worker_started(self, model: str, seconds: float) -> None:
        self.worker_start.labels(model).observe(seconds)

    def worker_restarted(self, model: str) -> None:
        """Restarts are counted from ModelStats at scrape time; nothing to do here."""

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        """Drift is exported from the anomaly monitors at scrape time; nothing to do here."""


class AutoscalerMetrics:
    """What the autoscaler decided, every tick; implements the controller's observer."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.desired = Gauge(names.AUTOSCALER_DESIRED, "Workers the policy wants.",
                             ["model", "policy"], registry=registry)
        self.decisions = Counter(names.AUTOSCALER_DECISIONS,
                                 "Autoscaler ticks by the direction decided (up, down, hold).",
                                 ["model", "policy", "direction"], registry=registry)
        self.policy = Info(names.AUTOSCALER_POLICY, "The autoscaling policy in force.",
                           ["model"], registry=registry)

    def configured(self, model: str, policy: str, min_workers: int, max_workers: int,
                   interval_s: float) -> None:
        self.policy.labels(model).info({"policy": policy, "min_workers": str(min_workers),
                                        "max_workers": str(max_workers),
                                        "interval_seconds": str(interval_s)})

    def decided(self, model: str, policy: str, direction: str, current: int,
                desired: int) -> None:
        self.desired.labels(model, policy).set(desired)
        self.decisions.labels(model, policy, direction).inc()


class SecurityMetrics:
    """Requests refused before reaching a model: by reason (``unauthenticated``, ``forbidden``,
    ``rate_limited``) and protocol. No key label, so the series are a fixed set, all exported
    from the start (at 0) so that rates and alerts see them before the first refusal."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.rejected_requests = Counter(
            names.REQUESTS_REJECTED, "Requests refused by API keys or rate limits, by reason.",
            ["reason", "protocol"], registry=registry)
        self._children: dict[tuple[str, str], Counter] = {
            (reason, protocol): self.rejected_requests.labels(reason, protocol)
            for reason in ("unauthenticated", "forbidden", "rate_limited")
            for protocol in ("rest", "grpc")}

    def rejected(self, reason: str, protocol: str) -> None:
        child = self._children.get((reason, protocol))
        if child is None:
            child = self._children[(reason, protocol)] = self.rejected_requests.labels(
                reason, protocol)
        child.inc()
