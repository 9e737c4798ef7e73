"""What one simulation produced: per-request latencies, workers, scale events, a timeline.

The engine keeps its bookkeeping in plain lists while it runs (that is what keeps it fast);
`assemble_run` turns them into the arrays of a `Run` once, at the end.

    run = simulate(trace, world, PolicySpec("ebb"), PIPELINES["ebb"], seed=0)
    run.latency_s, run.worker_seconds, run.scale_events
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

Sample = tuple[float, int, int, int, int, int]
"""(time, queue depth, in flight, starting, ready, draining): one row of the timeline."""


@dataclass(frozen=True, slots=True)
class ScaleEvent:
    """A decision that changed the worker count."""

    at: float
    before: int
    after: int
    reason: str


@dataclass(frozen=True, eq=False)
class Timeline:
    """The system sampled at a fixed step (the plots' data)."""

    times: FloatArray
    queue_depth: FloatArray
    inflight: FloatArray
    starting: FloatArray
    ready: FloatArray
    draining: FloatArray


@dataclass(frozen=True, eq=False)
class Run:
    """What one simulation produced, per request and over time."""

    policy: str
    pipeline: str
    latency_s: FloatArray
    """Per arrival: seconds from arrival to answer; NaN when refused or never answered."""
    rejected: NDArray[np.bool_]
    """Per arrival: refused because the queue was full."""
    worker_created: FloatArray
    """Per worker ever ordered: when (virtual seconds)."""
    worker_stopped: FloatArray
    """Per worker: when it stopped (inf: still there at the end)."""
    scale_events: tuple[ScaleEvent, ...]
    timeline: Timeline
    duration_s: float
    ended_at: float
    """Virtual time the run stopped (the trace's end plus whatever answering took)."""
    events: int
    """Events processed, for speed measurements."""
    workers_per_pod: int | None = None
    """The kubernetes world's pod size (every worker of a pod is created and stopped with
    it); None on one machine."""

    @property
    def answered(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.latency_s)

    @property
    def worker_seconds(self) -> float:
        """Workers that existed (starting, ready or draining) integrated over the trace."""
        return self.worker_seconds_between(0.0, self.duration_s)

    @property
    def pod_seconds(self) -> float | None:
        """Pods that existed integrated over the trace (kubernetes world only)."""
        return self.pod_seconds_between(0.0, self.duration_s)

    def pod_seconds_between(self, start_s: float, end_s: float) -> float | None:
        """Pod-seconds inside ``[start_s, end_s)``; None on one machine."""
        if self.workers_per_pod is None:
            return None
        return self.worker_seconds_between(start_s, end_s) / self.workers_per_pod

    def worker_seconds_between(self, start_s: float, end_s: float) -> float:
        """Worker-seconds spent inside ``[start_s, end_s)``."""
        lo = np.maximum(self.worker_created, start_s)
        hi = np.minimum(self.worker_stopped, end_s)
        return float(np.sum(np.clip(hi - lo, 0.0, None)))


@dataclass(frozen=True, slots=True)
class QueueLog:
    """The queue's history as the engine kept it: admitted positions ``[0, admitted)`` in
    arrival order, of which ``[0, taken)`` left in batches."""

    arrivals: int
    admitted: int
    taken: int
    admitted_at: list[float]
    """Arrival time of each admitted request."""
    rejected_ranges: list[tuple[int, int]]
    """Trace indices ``[lo, hi)`` refused because the queue was full."""
    batch_sizes: list[int]
    batch_finish: list[float]
    """When each batch, in the order batches were taken, was answered."""


def assemble_run(label: str, pipeline: str, queue: QueueLog, worker_created: list[float],
                 worker_stopped: list[float], scale_events: list[ScaleEvent],
                 samples: list[Sample], duration_s: float, ended_at: float, events: int,
                 workers_per_pod: int | None = None) -> Run:
    """The `Run` of the engine's lists: latencies by trace index, refusals, the timeline."""
    rejected = np.zeros(queue.arrivals, dtype=bool)
    for lo, hi in queue.rejected_ranges:
        rejected[lo:hi] = True
    admitted_index = np.flatnonzero(~rejected)[:queue.admitted]
    latency = np.full(queue.arrivals, np.nan)
    finish = np.repeat(np.asarray(queue.batch_finish, dtype=np.float64),
                       np.asarray(queue.batch_sizes, dtype=np.int64))
    answered = finish <= ended_at
    served_index = admitted_index[:queue.taken]
    waited = finish - np.asarray(queue.admitted_at[:queue.taken], dtype=np.float64)
    latency[served_index[answered]] = waited[answered]
    created = np.asarray(worker_created, dtype=np.float64)
    stopped = np.asarray(worker_stopped, dtype=np.float64)
    columns = np.asarray(samples, dtype=np.float64).reshape(-1, 6)
    timeline = Timeline(*(np.ascontiguousarray(columns[:, i]) for i in range(6)))
    return Run(label, pipeline, latency, rejected, created, stopped, tuple(scale_events),
               timeline, duration_s, ended_at, events, workers_per_pod)
