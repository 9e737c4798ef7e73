"""Signals for the policy from the pods themselves: every serving endpoint's ``/metrics``, each
tick, summed; Prometheus when no pod can be read.

Counting follows SPEC §4.4: an endpoint is scraped when ``serving`` (a terminating pod still
holds a queue, and that queue is demand), but counts as capacity only when ``ready`` and not
``terminating``. A pod that does not answer within the per-pod timeout is unreported this tick
(the HPA rule: 0 for scaling up, at target for scaling down; the policies apply it). Pods the
Deployment asked for that are not ready yet are ``starting``, so a scale-up is not ordered twice.
The policy sees workers: pods x workers per pod.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Protocol

from ebb.autoscale.controller import SignalSource
from ebb.autoscale.sources.counters import GatewayCounters, RateWindow
from ebb.autoscale.sources.prometheus import PrometheusSource
from ebb.autoscale.types import ScalingInput
from ebb.kubernetes.controller.api import ApiError, KubeApi, Scale
from ebb.kubernetes.controller.discovery import PodDirectory
from ebb.kubernetes.controller.scrape import PodReading, PodScraper

__all__ = ["ClusterSource", "PodReading", "PodScraper", "ScaleView", "ScrapeObserver"]

log = logging.getLogger("ebb.kubernetes.controller")


class ScrapeObserver(Protocol):
    def scrape_failed(self, pods: int) -> None: ...


class ScaleView:
    """The target's Scale as last read or written; re-read when older than ``max_age_s``."""

    def __init__(self, api: KubeApi, namespace: str, deployment: str,
                 max_age_s: float = 5.0) -> None:
        self._api, self._namespace, self._deployment = api, namespace, deployment
        self._max_age_s = max_age_s
        self.scale: Scale | None = None
        self._at = float("-inf")

    def saw(self, scale: Scale) -> None:
        self.scale, self._at = scale, time.monotonic()

    async def fresh(self) -> Scale:
        scale = await self._api.get_scale(self._namespace, self._deployment)
        self.saw(scale)
        return scale

    async def current(self) -> Scale | None:
        if time.monotonic() - self._at > self._max_age_s:
            try:
                await self.fresh()
            except ApiError as error:
                log.warning("cannot read the scale of %s: %s", self._deployment, error)
        return self.scale


class PodTotals:
    """Cumulative counters summed over pods that come and go: each pod adds what it counted
    since it was last read, so a pod that leaves takes nothing away from the totals."""

    def __init__(self) -> None:
        self._last: dict[str, GatewayCounters] = {}
        self._sums = [0, 0, 0, 0.0]

    def add(self, readings: list[PodReading]) -> tuple[int, int, int, float]:
        seen = {}
        for reading in readings:
            now = reading.counters
            if now is None:
                continue
            uid = reading.endpoint.uid
            before = self._last.get(uid, now)
            values = (now.arrivals, now.completions, now.batches, now.batch_seconds)
            olds = (before.arrivals, before.completions, before.batches, before.batch_seconds)
            for index, (new, old) in enumerate(zip(values, olds, strict=True)):
                self._sums[index] += new - old if new >= old else new  # a restart resets
            seen[uid] = now
        for reading in readings:  # an unreported pod keeps its last reading
            uid = reading.endpoint.uid
            if uid not in seen and uid in self._last:
                seen[uid] = self._last[uid]
        self._last = seen
        return int(self._sums[0]), int(self._sums[1]), int(self._sums[2]), float(self._sums[3])


class ClusterSource:
    """``SignalSource`` over a Service's pods, with a PromQL fallback."""

    def __init__(self, directory: PodDirectory, scraper: PodScraper, scale: ScaleView,
                 slo_s: float, workers_per_pod: int | None, observer: ScrapeObserver,
                 prometheus_url: str | None = None, model: str | None = None,
                 window_s: float = 5.0) -> None:
        self._directory, self._scraper, self._scale = directory, scraper, scale
        self._slo_s = slo_s
        self._fixed_wpp = workers_per_pod
        self._observer = observer
        self._prometheus_url, self._model = prometheus_url, model
        self.fallback: SignalSource | None = prometheus_fallback(prometheus_url, model, slo_s)
        self._window = RateWindow(window_s)
        self._totals = PodTotals()
        self.pods: list[PodReading] = []
        """The last tick's readings (the actuator ranks pods for deletion cost with them)."""
        self.workers_per_pod = workers_per_pod or 1

    async def read(self, now: float) -> ScalingInput:
        endpoints = tuple(e for e in self._directory.endpoints() if e.serving and e.port)
        readings = await self._scraper.scrape(endpoints)
        failed = sum(1 for r in readings if r.counters is None)
        if failed:
            self._observer.scrape_failed(failed)
        self.pods = readings
        if readings and failed == len(readings) and self.fallback is not None:
            log.warning("no pod answered /metrics; reading Prometheus instead")
            return await self.fallback.read(now)
        self._learn(readings)
        return await self._signal(now, readings)

    def _learn(self, readings: list[PodReading]) -> None:
        """Workers per pod from the pods' gauges (unless fixed), and the model the PromQL
        fallback selects (unless named)."""
        if self.fallback is None and self._model is None:
            models = sorted(set().union(*(r.models for r in readings)))
            if models:
                self._model = models[0]
                self.fallback = prometheus_fallback(self._prometheus_url, models[0],
                                                    self._slo_s)
        if self._fixed_wpp is None:
            reported = [r.counters.ready + r.counters.starting for r in readings if r.counters]
            self.workers_per_pod = max([*reported, 1])

    async def _signal(self, now: float, readings: list[PodReading]) -> ScalingInput:
        wpp = self.workers_per_pod
        capacity = [r for r in readings if r.endpoint.ready and not r.endpoint.terminating]
        ready = len(capacity)
        scale = await self._scale.current()
        if scale is not None:
            starting = max(scale.replicas - ready, 0)
        else:
            starting = sum(1 for e in self._directory.endpoints()
                           if not e.ready and not e.terminating)
        reported = [r.counters for r in readings if r.counters is not None]
        arrivals, completions, batches, seconds = self._totals.add(readings)
        counters = GatewayCounters(
            queue_depth=sum(c.queue_depth for c in reported),
            inflight=sum(c.inflight for c in reported), starting=starting * wpp,
            ready=ready * wpp, arrivals=arrivals, completions=completions, batches=batches,
            batch_seconds=seconds)
        signal = self._window.observe(now, counters, self._slo_s)
        unreported = sum(1 for r in capacity if r.counters is None) * wpp
        return replace(signal, unreported_workers=unreported)


def prometheus_fallback(url: str | None, model: str | None, slo_s: float
                        ) -> PrometheusSource | None:
    """The PromQL source for one model's series; None without a URL or a model name."""
    if not url or not model:
        return None
    return PrometheusSource(url, model, slo_s)
