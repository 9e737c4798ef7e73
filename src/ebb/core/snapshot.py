"""One model's gateway state at one moment: the single view every reader shares.

The metrics collector (at scrape time), the autoscaler's in-process source (each tick) and the
live dashboard (each second) all read a ``ModelSnapshot`` from the same function, so the three
can never disagree about what the queue held or how many workers were ready.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WorkerSample:
    worker_id: int
    pid: int


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    model: str
    queue_depth: int
    """Requests waiting, not yet given to a worker."""
    queue_capacity: int
    inflight: int
    """Requests being run by workers."""
    starting: int
    ready: int
    draining: int
    admissions: int
    """Requests admitted to the queue, cumulative."""
    rejections: int
    """Requests refused because the queue was full, cumulative."""
    expirations: int
    worker_restarts: int
    workers: tuple[WorkerSample, ...]
    anomalies: tuple[tuple[str, float, bool], ...] = ()
    """(signal, score, active) from the anomaly and drift monitors."""
    completions: int = 0
    """Requests answered by workers, cumulative."""
    batches: int = 0
    batch_seconds: float = 0.0
    """Worker wall time spent on batches, cumulative."""
    poison_requests: int = 0
    """Requests answered 500 because they made a worker die alone, cumulative."""
    watchdog_kills: int = 0
    """Workers killed because a batch overran its deadline or the runtime limit, cumulative."""
