"""Signals from a Prometheus server by PromQL over HTTP: the source a Kubernetes deployment uses.

Gauges are summed over every pod that serves the model; rates come from Prometheus' own
``rate()`` over ``window``, so this source keeps no history. Its freshness is the scrape
interval plus the rule evaluation delay, which is why Ebb prefers in-process signals locally.
"""

from __future__ import annotations

import asyncio

import httpx

from ebb.autoscale.types import ScalingInput
from ebb.metrics import names


def queries(model: str, window: str) -> dict[str, str]:
    """The PromQL for each signal of one model (label values quoted as PromQL strings)."""
    selector = f'{{model="{model}"}}'
    return {
        "queue_depth": f"sum({names.QUEUE_DEPTH}{selector})",
        "inflight": f"sum({names.INFLIGHT_REQUESTS}{selector})",
        "ready": f'sum({names.WORKERS}{{model="{model}",state="ready"}})',
        "starting": f'sum({names.WORKERS}{{model="{model}",state="starting"}})',
        "arrival_rate": f"sum(rate({names.QUEUE_ADMISSIONS}_total{selector}[{window}]))",
        "completion_rate": f"sum(rate({names.BATCH_SIZE}_sum{selector}[{window}]))",
        "service_time_s": (f"sum(rate({names.INFERENCE_DURATION}_sum{selector}[{window}])) / "
                           f"sum(rate({names.INFERENCE_DURATION}_count{selector}[{window}]))"),
        "mean_batch_size": (f"sum(rate({names.BATCH_SIZE}_sum{selector}[{window}])) / "
                            f"sum(rate({names.BATCH_SIZE}_count{selector}[{window}]))"),
    }


class PrometheusSource:
    def __init__(self, prometheus_url: str, model: str, slo_s: float, window: str = "30s",
                 timeout_s: float = 2.0) -> None:
        self._client = httpx.AsyncClient(base_url=prometheus_url.rstrip("/"), timeout=timeout_s)
        self._queries = queries(model, window)
        self._slo_s = slo_s
        self._last: dict[str, float] = {}

    async def _value(self, promql: str) -> float | None:
        response = await self._client.get("/api/v1/query", params={"query": promql})
        response.raise_for_status()
        result = response.json()["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if value != value else value  # NaN: 0/0 before the first batch

    async def read(self, now: float) -> ScalingInput:
        available = True
        values: dict[str, float] = {}
        try:
            answers = await asyncio.gather(*(self._value(q) for q in self._queries.values()))
            for key, value in zip(self._queries, answers, strict=True):
                values[key] = value if value is not None else self._last.get(key, 0.0)
        except (httpx.HTTPError, KeyError, ValueError):
            available = False
            values = dict(self._last)
        else:
            self._last = values
        ready = int(values.get("ready", 0))
        starting = int(values.get("starting", 0))
        return ScalingInput(
            now=now, current_workers=ready + starting, ready_workers=ready,
            starting_workers=starting, queue_depth=int(values.get("queue_depth", 0)),
            inflight=int(values.get("inflight", 0)),
            arrival_rate=values.get("arrival_rate", 0.0),
            completion_rate=values.get("completion_rate", 0.0),
            service_time_s=values.get("service_time_s", 0.0),
            mean_batch_size=max(values.get("mean_batch_size", 1.0), 1.0),
            slo_s=self._slo_s, metric_available=available,
        )

    async def close(self) -> None:
        await self._client.aclose()
