"""Plain counters the hot path bumps and the autoscaler and scrape-time collectors read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

# Re-exported for serving's users: the recorder now lives beside the Dispatcher seam in core.
from ebb.core.dispatch import RequestRecorder as RequestRecorder


@dataclass
class ModelStats:
    arrivals: int = 0
    """Requests admitted to the queue."""
    completions: int = 0
    """Requests answered by a worker (success or model error)."""
    batches: int = 0
    batch_seconds: float = 0.0
    """Wall time workers spent running batches."""
    by_batch_size: dict[int, list[float]] = field(default_factory=dict)
    """Rows in a batch -> [batches run, their seconds]: the statistics extension's batch_stats
    (bumped once per batch, never per request)."""
    worker_restarts: int = 0
    poison_requests: int = 0
    """Requests answered 500 because they made a worker die while running alone."""
    watchdog_kills: int = 0
    """Workers killed because their batch ran past its deadline or the runtime limit."""

    def batch_ran(self, requests: int, rows: int, seconds: float) -> None:
        """A worker answered a batch (success or model error)."""
        self.batches += 1
        self.batch_seconds += seconds
        self.completions += requests
        sized = self.by_batch_size.get(rows)
        if sized is None:
            self.by_batch_size[rows] = [1, seconds]
        else:
            sized[0] += 1
            sized[1] += seconds


class ServingObserver(Protocol):
    """What serving reports as it happens; ``ebb.metrics`` implements it with Prometheus."""

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None: ...

    def worker_started(self, model: str, seconds: float) -> None: ...

    def worker_restarted(self, model: str) -> None: ...

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        """One request of each batch, for data-drift monitoring off the request path."""
        ...


class NullObserver:
    def request_done(self, model: str, protocol: str, code: int, seconds: float) -> None:
        pass

    def batch_done(self, model: str, requests: int, rows: int, seconds: float,
                   queue_waits: list[float]) -> None:
        pass

    def worker_started(self, model: str, seconds: float) -> None:
        pass

    def worker_restarted(self, model: str) -> None:
        pass

    def batch_sample(self, model: str, inputs: Mapping[str, np.ndarray],
                     outputs: Mapping[str, np.ndarray]) -> None:
        pass
