"""The gateway's state as one snapshot per model, read by metrics, autoscaler and dashboard."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ebb.core.snapshot import ModelSnapshot, WorkerSample
from ebb.serving.dispatcher import ServedModel

Anomalies = Callable[[str], tuple[tuple[str, float, bool], ...]]


class GatewayState:
    """Reads the served models' queues, pools and counters; holds nothing of its own."""

    def __init__(self, models: Mapping[str, ServedModel], anomalies: Anomalies) -> None:
        self._models = models
        self._anomalies = anomalies

    def snapshot(self, name: str) -> ModelSnapshot:
        served = self._models[name]
        counts = served.pool.counts()
        stats = served.stats
        return ModelSnapshot(
            model=name, queue_depth=served.queue.depth, queue_capacity=served.queue.max_size,
            inflight=served.pool.inflight, starting=counts.starting, ready=counts.ready,
            draining=counts.draining, admissions=stats.arrivals,
            rejections=served.queue.rejected, expirations=served.queue.expired,
            worker_restarts=stats.worker_restarts,
            workers=tuple(WorkerSample(w.id, w.pid) for w in served.pool.workers
                          if w.pid is not None),
            anomalies=self._anomalies(name), completions=stats.completions,
            batches=stats.batches, batch_seconds=stats.batch_seconds,
            poison_requests=stats.poison_requests, watchdog_kills=stats.watchdog_kills)

    def snapshots(self) -> list[ModelSnapshot]:
        return [self.snapshot(name) for name in self._models]
