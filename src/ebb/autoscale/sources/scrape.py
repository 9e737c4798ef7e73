"""Signals from the ``/metrics`` endpoints of one or more Ebb servers, summed per model.

Use it when the autoscaler runs apart from the servers it scales (another process, another
host); the numbers are as fresh as the scrape, with no Prometheus in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

import httpx

from ebb.autoscale.sources.counters import GatewayCounters, RateWindow
from ebb.autoscale.types import ScalingInput
from ebb.metrics import names
from ebb.metrics.exposition import parse_samples


def counters_from_exposition(texts: Iterable[str], model: str) -> GatewayCounters:
    """Sum one model's signals over several servers' exposition texts."""
    totals: dict[str, float] = {}

    def add(key: str, value: float) -> None:
        totals[key] = totals.get(key, 0.0) + value

    keys = {names.QUEUE_DEPTH: "depth", names.INFLIGHT_REQUESTS: "inflight",
            names.QUEUE_ADMISSIONS + "_total": "arrivals",
            names.BATCH_SIZE + "_sum": "completions",
            names.INFERENCE_DURATION + "_count": "batches",
            names.INFERENCE_DURATION + "_sum": "batch_seconds"}
    for text in texts:
        for name, labels, value in parse_samples(text):
            if labels.get("model") != model:
                continue
            if name == names.WORKERS:
                add(labels.get("state", ""), value)
            elif name in keys:
                add(keys[name], value)
    return GatewayCounters(
        queue_depth=int(totals.get("depth", 0)), inflight=int(totals.get("inflight", 0)),
        starting=int(totals.get("starting", 0)), ready=int(totals.get("ready", 0)),
        arrivals=int(totals.get("arrivals", 0)), completions=int(totals.get("completions", 0)),
        batches=int(totals.get("batches", 0)), batch_seconds=totals.get("batch_seconds", 0.0),
    )


class ScrapeSource:
    """Scrapes every URL concurrently each tick; a failed tick repeats the last reading, marked
    unavailable, so the policy holds instead of acting on a partial sum."""

    def __init__(self, metrics_urls: Sequence[str], model: str, slo_s: float,
                 window_s: float = 5.0, timeout_s: float = 2.0) -> None:
        self._urls = list(metrics_urls)
        self._model = model
        self._slo_s = slo_s
        self._window = RateWindow(window_s)
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._last: ScalingInput | None = None

    async def _text(self, url: str) -> str:
        response = await self._client.get(url)
        return response.raise_for_status().text

    async def read(self, now: float) -> ScalingInput:
        try:
            texts = await asyncio.gather(*(self._text(url) for url in self._urls))
        except httpx.HTTPError:
            if self._last is None:
                raise
            return self._last.stale(now)
        self._last = self._window.observe(now, counters_from_exposition(texts, self._model),
                                          self._slo_s)
        return self._last

    async def close(self) -> None:
        await self._client.aclose()
