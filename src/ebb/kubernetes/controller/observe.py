"""Where each tick's decision goes besides the actuator: the controller's metrics (in pods) and
the desired count that the KEDA external scaler streams."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from ebb.kubernetes.controller.actuator import pods_for
from ebb.metrics.controller import ControllerMetrics


class DesiredPods:
    """The latest desired pod count; waiters wake when it changes."""

    def __init__(self, initial: int) -> None:
        self.pods = initial
        self.demand = 0
        """Requests queued or in flight across the pods at the last tick."""
        self.decided = False
        self._changed = asyncio.Event()

    def set(self, pods: int, demand: int) -> None:
        self.demand = demand
        self.decided = True
        if pods != self.pods:
            self.pods = pods
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait_change(self, timeout_s: float) -> None:
        """Return when the count changes, or after ``timeout_s``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)


class ControllerObserver:
    """Implements the ``Controller``'s, the source's, the guards', the elector's and the
    actuator's observer seams on one set of metrics."""

    def __init__(self, metrics: ControllerMetrics, desired: DesiredPods, low: int, high: int,
                 workers_per_pod: Callable[[], int], demand: Callable[[], int]) -> None:
        self._metrics, self._desired = metrics, desired
        self._low, self._high = low, high
        self._wpp, self._demand = workers_per_pod, demand

    def decided(self, model: str, policy: str, direction: str, current: int,
                desired: int) -> None:
        pods = pods_for(desired, self._wpp(), self._low, self._high)
        self._metrics.decided(direction, pods)
        self._desired.set(pods, self._demand())

    def scrape_failed(self, pods: int) -> None:
        self._metrics.scrape_errors.inc(pods)

    def conflict(self, present: bool) -> None:
        self._metrics.conflict.set(1 if present else 0)

    def leadership(self, leader: bool) -> None:
        self._metrics.leader.set(1 if leader else 0)

    def wrote(self, replicas: int) -> None:
        self._metrics.writes.inc()

    def write_conflict(self) -> None:
        self._metrics.write_conflicts.inc()
