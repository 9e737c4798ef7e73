"""What the dashboard page shows: once a second, turn counters into a timeline sample."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from ebb.autoscale.sources.counters import GatewayCounters
from ebb.dashboard.timeline import LatencyReservoir, Sample, Timeline

_STATIC = {"dashboard.js": b"text/javascript", "dashboard.css": b"text/css"}


@dataclass(frozen=True, slots=True)
class DecisionView:
    t: float
    policy: str
    current: int
    desired: int
    reason: str


class DashboardFeed:
    """One model's live view. ``record`` is called per answered request, ``tick`` per second."""

    def __init__(self, model: str, started_at: float, seconds: int = 600) -> None:
        self.model = model
        self._started_at = started_at
        self.timeline = Timeline(seconds)
        self.reservoir = LatencyReservoir()
        self._previous: tuple[float, GatewayCounters, int] | None = None

    def tick(self, now: float, counters: GatewayCounters, rejections: int, desired: int) -> None:
        p50, p99, answers, errors = self.reservoir.drain()
        previous = self._previous
        self._previous = (now, counters, rejections)
        if previous is None:
            return
        then, old, old_rejections = previous
        elapsed = max(now - then, 1e-9)
        self.timeline.add(Sample(
            t=now - self._started_at,
            arrival_rate=(counters.arrivals - old.arrivals) / elapsed,
            answer_rate=answers / elapsed,
            error_rate=errors / elapsed,
            rejection_rate=(rejections - old_rejections) / elapsed,
            queue_depth=counters.queue_depth, inflight=counters.inflight,
            ready=counters.ready, starting=counters.starting, desired=desired,
            p50_ms=p50, p99_ms=p99,
        ))

    def data(self, policy: str | None, slo_ms: float, decisions: Sequence[DecisionView],
             anomaly: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": self.model,
            "policy": policy,
            "slo_ms": slo_ms,
            "timeline": self.timeline.to_json(),
            "decisions": [{"t": round(d.t - self._started_at, 2), "policy": d.policy,
                           "from": d.current, "to": d.desired, "reason": d.reason}
                          for d in decisions],
            "anomaly": anomaly,
        }


def page() -> bytes:
    return resources.files("ebb.dashboard").joinpath("static/dashboard.html").read_bytes()


def static_asset(name: str) -> tuple[bytes, bytes] | None:
    """(body, content type) of a packaged asset, or None for an unknown name."""
    content_type = _STATIC.get(name)
    if content_type is None:
        return None
    return resources.files("ebb.dashboard").joinpath(f"static/{name}").read_bytes(), content_type
