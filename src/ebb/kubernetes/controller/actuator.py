"""Pods from the policy's workers, written to the target's ``/scale`` (SPEC §4.1-4.3).

The policy answers in workers; the actuator turns that into pods (rounded up, within the
bounds) and writes it only when every gate passes: not a dry run; this replica holds the Lease
(checked right before the PUT); no HPA (KEDA's ``keda-hpa-*`` included) targets the workload,
else it only advises; and for an InferenceService, the class is ``external``. A write is GET
then PUT with that ``resourceVersion``; a 409 re-reads and tries again, a few times, jittered.
Before scaling in it marks the least busy pods with a low deletion cost.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ebb.kubernetes.controller.api import ApiError, ConflictError, KubeApi, Scale
from ebb.kubernetes.controller.deletion_cost import ANNOTATION, PodWork, deletion_costs
from ebb.kubernetes.controller.events import EventRecorder
from ebb.kubernetes.controller.guards import Guards
from ebb.kubernetes.controller.sources import PodReading, ScaleView

log = logging.getLogger("ebb.kubernetes.controller")

MAX_ATTEMPTS = 5


def pods_for(desired_workers: int, workers_per_pod: int, low: int, high: int) -> int:
    """The policy's workers as pods: rounded up, within ``[low, high]``."""
    return min(max(math.ceil(desired_workers / max(workers_per_pod, 1)), low), high)


class WriteObserver(Protocol):
    """What the actuator reports (the controller's metrics implement it)."""

    def wrote(self, replicas: int) -> None: ...

    def write_conflict(self) -> None: ...


@dataclass
class ScaleActuator:
    api: KubeApi
    namespace: str
    deployment: str
    low: int
    high: int
    view: ScaleView
    guards: Guards
    events: EventRecorder
    observer: WriteObserver
    is_leader: Callable[[], bool]
    workers_per_pod: Callable[[], int]
    pods: Callable[[], list[PodReading]]
    reason: Callable[[], str] = lambda: ""
    dry_run: bool = False
    marked: dict[str, str] = field(default_factory=dict)
    """Deletion costs this controller set, by pod."""

    async def apply(self, desired_workers: int) -> None:
        replicas = pods_for(desired_workers, self.workers_per_pod(), self.low, self.high)
        if self.dry_run:
            log.info("dry run: would scale %s to %d pods", self.deployment, replicas)
            return
        if not self.is_leader():
            log.debug("not the leader: %d pods for %s not written", replicas, self.deployment)
            return
        if not await self.guards.may_write():
            return
        for attempt in range(MAX_ATTEMPTS):
            try:
                if await self._write_once(replicas):
                    return
            except ConflictError:
                self.observer.write_conflict()
                log.info("scale of %s changed under us (409); re-reading", self.deployment)
                await asyncio.sleep(random.uniform(0.01, 0.05) * 2 ** attempt)
            except ApiError as error:
                log.warning("cannot scale %s: %s", self.deployment, error)
                return
        log.warning("gave up scaling %s after %d conflicts", self.deployment, MAX_ATTEMPTS)

    async def _write_once(self, replicas: int) -> bool:
        """GET, then PUT with its version; True when done (written, or nothing to write)."""
        scale = await self.view.fresh()
        if scale.replicas == replicas:
            return True
        if replicas < scale.replicas:
            await self._mark_least_busy(scale, replicas)
        if not self.is_leader():
            log.warning("lost the lease before writing %s; not written", self.deployment)
            return True
        written = await self.api.replace_scale(self.namespace, self.deployment, replicas,
                                               scale.resource_version)
        self.view.saw(written)
        self.observer.wrote(replicas)
        note = f"{scale.replicas} -> {replicas} pods: {self.reason()}"
        log.info("scaled %s %s", self.deployment, note)
        await self.events.post("Normal", "Scaled", note, "Scale")
        return True

    async def _mark_least_busy(self, scale: Scale, replicas: int) -> None:
        ready = [r for r in self.pods()
                 if r.endpoint.ready and not r.endpoint.terminating and r.endpoint.pod]
        not_ready = max(scale.replicas - len(ready), 0)
        remove = scale.replicas - replicas - not_ready
        work = [PodWork(r.endpoint.pod or "", r.work) for r in ready]
        for pod, cost in deletion_costs(work, remove, self.marked).items():
            try:
                await self.api.annotate_pod(self.namespace, pod, {ANNOTATION: cost})
            except ApiError as error:
                log.warning("cannot set the deletion cost of pod %s: %s", pod, error)
                continue
            if cost is None:
                self.marked.pop(pod, None)
            else:
                self.marked[pod] = cost
