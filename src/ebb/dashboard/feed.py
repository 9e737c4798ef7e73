"""What the dashboard page shows: once a second, turn counters into a timeline sample."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ebb.anomaly import SignalSnapshot
from ebb.autoscale.sources.counters import GatewayCounters
from ebb.dashboard.timeline import LatencyReservoir, Sample, Timeline

_STATIC = {"dashboard.js": b"text/javascript", "dashboard.css": b"text/css",
           "uPlot.iife.min.js": b"text/javascript", "uPlot.min.css": b"text/css"}
"""Served assets. uPlot 1.6.32 (MIT, uPlot-LICENSE.txt beside it) comes from the npm registry's
``uplot`` package, shipped as is, so the page needs no network."""
STATIC_ASSETS = tuple(_STATIC)


@dataclass(frozen=True, slots=True)
class DecisionView:
    t: float
    policy: str
    current: int
    desired: int
    reason: str


class DashboardFeed:
    """One model's live view. ``record`` is called per answered request, ``tick`` per second."""

    def __init__(self, model: str, started_at: float, seconds: int = 600,
                 wall_started_at: float | None = None) -> None:
        """``started_at`` is on the server's clock; ``wall_started_at`` (Unix seconds, now by
        default) is the same moment on the wall clock, so the page shows clock times."""
        self.model = model
        self._started_at = started_at
        self._wall_started_at = time.time() if wall_started_at is None else wall_started_at
        self.timeline = Timeline(seconds)
        self.reservoir = LatencyReservoir()
        self._previous: tuple[float, GatewayCounters, int] | None = None
        self.anomaly: deque[tuple[float, dict[str, float]]] = deque(maxlen=seconds)

    def tick(self, now: float, counters: GatewayCounters, rejections: int, desired: int
             ) -> SignalSnapshot | None:
        """Record one second; returns the anomaly monitor's inputs for it (None at the start)."""
        drained = self.reservoir.drain()
        previous = self._previous
        self._previous = (now, counters, rejections)
        if previous is None:
            return None
        then, old, old_rejections = previous
        elapsed = max(now - then, 1e-9)
        arrival_rate = (counters.arrivals - old.arrivals) / elapsed
        self.timeline.add(Sample(
            t=now - self._started_at,
            arrival_rate=arrival_rate,
            answer_rate=drained.answers / elapsed,
            error_rate=drained.errors / elapsed,
            rejection_rate=(rejections - old_rejections) / elapsed,
            queue_depth=counters.queue_depth, inflight=counters.inflight,
            ready=counters.ready, starting=counters.starting, desired=desired,
            p50_ms=0.0 if math.isnan(drained.p50_ms) else drained.p50_ms,
            p99_ms=0.0 if math.isnan(drained.p99_ms) else drained.p99_ms,
        ))
        error_ratio = drained.errors / drained.answers if drained.answers else math.nan
        return SignalSnapshot(arrival_rate, drained.p99_ms / 1000, drained.mean_queue_wait_s,
                              error_ratio)

    def add_anomaly(self, now: float, scores: dict[str, tuple[float, bool]]) -> None:
        self.anomaly.append((now - self._started_at, {k: v[0] for k, v in scores.items()}))

    def _anomaly_columns(self) -> dict[str, Any]:
        names = sorted({name for _, scores in self.anomaly for name in scores})
        return {"t": [round(t, 2) for t, _ in self.anomaly],
                "scores": {name: [round(scores.get(name, 0.0), 3) for _, scores in self.anomaly]
                           for name in names}}

    def data(self, policy: str | None, slo_ms: float, decisions: Sequence[DecisionView]
             ) -> dict[str, Any]:
        return {
            "model": self.model,
            "started_at": round(self._wall_started_at, 3),
            "policy": policy,
            "slo_ms": slo_ms,
            "timeline": self.timeline.to_json(),
            "decisions": [{"t": round(d.t - self._started_at, 2), "policy": d.policy,
                           "from": d.current, "to": d.desired, "reason": d.reason}
                          for d in decisions],
            "anomaly": self._anomaly_columns(),
        }


def page() -> bytes:
    return resources.files("ebb.dashboard").joinpath("static/dashboard.html").read_bytes()


def static_asset(name: str) -> tuple[bytes, bytes] | None:
    """(body, content type) of a packaged asset, or None for an unknown name."""
    content_type = _STATIC.get(name)
    if content_type is None:
        return None
    return resources.files("ebb.dashboard").joinpath(f"static/{name}").read_bytes(), content_type
