"""Reads the server's ``/metrics`` every ~0.5 s while the load runs: queue depth and workers.

It shares the event loop with the dispatcher, so it must not hold it: the HTTP client (whose TLS
set-up takes tens of milliseconds) is built before the run starts, and only the lines of the two
families needed are handed to the (pure Python) exposition parser. A failed or slow scrape is
skipped, never retried in a hurry; the failures are counted so the report can say why the
columns are empty.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import numpy as np

from ebb.loadgen.http1 import ClientContext
from ebb.loadgen.stats import GaugeSamples
from ebb.metrics import names
from ebb.metrics.exposition import parse_samples


@dataclass(frozen=True)
class GaugeReading:
    queue_depth: float
    ready: float
    starting: float


_FAMILIES = (names.QUEUE_DEPTH, names.WORKERS)


def _wanted(line: str) -> bool:
    if line.startswith("# "):
        line = line[7:]  # "# HELP " and "# TYPE " are both seven characters
    return line.startswith(_FAMILIES)


def read_gauges(text: str, model: str) -> GaugeReading:
    """One model's queue depth and ready/starting workers from an exposition text (NaN where the
    server does not export them)."""
    totals: dict[str, float] = {}
    relevant = "\n".join(line for line in text.splitlines() if _wanted(line))
    for name, labels, value in parse_samples(relevant):
        if labels.get("model") != model:
            continue
        if name == names.QUEUE_DEPTH:
            key = "depth"
        elif name == names.WORKERS and labels.get("state") in ("ready", "starting"):
            key = labels["state"]
        else:
            continue
        totals[key] = totals.get(key, 0.0) + value
    return GaugeReading(totals.get("depth", math.nan), totals.get("ready", math.nan),
                        totals.get("starting", math.nan))


class MetricsPoller:
    """``await run()`` polls until cancelled; ``samples()`` gives what it read so far;
    ``await close()`` when done."""

    def __init__(self, url: str, model: str, interval_s: float,
                 now: Callable[[], float], tls: ClientContext) -> None:
        self._http = httpx.AsyncClient(timeout=interval_s * 2, verify=tls)
        self._url = url
        self._model = model
        self._interval_s = interval_s
        self._now = now
        self._rows: list[tuple[float, float, float, float]] = []
        self.failures = 0
        self.last_failure = ""

    @property
    def latest(self) -> GaugeReading | None:
        if not self._rows:
            return None
        _, depth, ready, starting = self._rows[-1]
        return GaugeReading(depth, ready, starting)

    async def run(self) -> None:
        while True:
            started = self._now()
            await self._poll()
            await asyncio.sleep(max(0.0, self._interval_s - (self._now() - started)))

    async def close(self) -> None:
        await self._http.aclose()

    async def _poll(self) -> None:
        at = self._now()
        try:
            response = await self._http.get(self._url)
            response.raise_for_status()
            reading = read_gauges(response.text, self._model)
        except (httpx.HTTPError, ValueError) as error:
            self.failures += 1
            self.last_failure = f"{type(error).__name__}: {error}"
            return
        self._rows.append((at, reading.queue_depth, reading.ready, reading.starting))

    def samples(self) -> GaugeSamples:
        if not self._rows:
            return GaugeSamples.empty()
        t, depth, ready, starting = (np.array(column) for column in zip(*self._rows, strict=True))
        return GaugeSamples(t, depth, ready, starting)
