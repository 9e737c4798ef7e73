"""Turning cumulative counters into the rates a policy needs, over a sliding window (pure)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ebb.autoscale.types import ScalingInput
from ebb.core.snapshot import ModelSnapshot


@dataclass(frozen=True, slots=True)
class GatewayCounters:
    """One model's gauges and cumulative counters, summed over the gateways that serve it."""

    queue_depth: int
    inflight: int
    starting: int
    ready: int
    arrivals: int
    """Requests admitted to the queue, cumulative."""
    completions: int
    """Requests answered by workers, cumulative."""
    batches: int
    batch_seconds: float
    """Worker wall time spent on batches, cumulative."""

    @classmethod
    def of(cls, snapshot: ModelSnapshot) -> GatewayCounters:
        """The autoscaler's view of a gateway's snapshot: gauges and cumulative counters."""
        return cls(queue_depth=snapshot.queue_depth, inflight=snapshot.inflight,
                   starting=snapshot.starting, ready=snapshot.ready,
                   arrivals=snapshot.admissions, completions=snapshot.completions,
                   batches=snapshot.batches, batch_seconds=snapshot.batch_seconds)


class RateWindow:
    """Keeps recent counter readings and derives rates over ``window_s``.

    Service time and batch size keep their last measured value when no batch finished inside
    the window, so a quiet moment does not make capacity look unknown.
    """

    def __init__(self, window_s: float) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._readings: deque[tuple[float, GatewayCounters]] = deque()
        self._service_time_s = 0.0
        self._batch_size = 1.0

    def observe(self, now: float, counters: GatewayCounters, slo_s: float) -> ScalingInput:
        self._readings.append((now, counters))
        while len(self._readings) > 2 and self._readings[1][0] <= now - self.window_s:
            self._readings.popleft()
        then, old = self._readings[0]
        elapsed = now - then
        arrival_rate = completion_rate = 0.0
        if elapsed > 0:
            arrival_rate = max(counters.arrivals - old.arrivals, 0) / elapsed
            completion_rate = max(counters.completions - old.completions, 0) / elapsed
        batches = counters.batches - old.batches
        if batches > 0:
            self._service_time_s = (counters.batch_seconds - old.batch_seconds) / batches
            self._batch_size = max((counters.completions - old.completions) / batches, 1.0)
        return ScalingInput(
            now=now,
            current_workers=counters.starting + counters.ready,
            ready_workers=counters.ready,
            starting_workers=counters.starting,
            queue_depth=counters.queue_depth,
            inflight=counters.inflight,
            arrival_rate=arrival_rate,
            completion_rate=completion_rate,
            service_time_s=self._service_time_s,
            mean_batch_size=self._batch_size,
            slo_s=slo_s,
        )
