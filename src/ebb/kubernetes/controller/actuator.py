"""Pods from the policy's workers, written to the target's ``/scale`` (SPEC §4.1-4.3).

The policy answers in workers; the actuator turns that into pods (rounded up, within the
bounds) and writes it only when every gate passes: not a dry run; this replica holds the Lease
(checked right before the PUT); no HPA (KEDA's ``keda-hpa-*`` included) targets the workload,
else it only advises; and for an InferenceService, the class is ``external``. A write is GET
then PUT with that ``resourceVersion``; a 409 re-reads and tries again, a few times, jittered.
Before scaling in it marks the least busy pods with a low deletion cost.

No scale-in while pods are starting: the pods ordered last are not ready yet, so the demand
measured meanwhile is what the old pods could take (often less than what arrives), and a
ReplicaSet deletes not-ready pods first, so a scale-in then kills exactly the pods about to
help. Pods still starting after ``start_timeout_s`` (stuck Pending, crash-looping) no longer
hold a scale-in back.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
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


def starting_pods(asked: int, readings: list[PodReading]) -> int:
    """Pods the Scale asks for that are not ready (and not terminating) yet."""
    ready = sum(1 for r in readings if r.endpoint.ready and not r.endpoint.terminating)
    return max(asked - ready, 0)


def scale_in_held(asked: int, replicas: int, starting: int, starting_for_s: float,
                  start_timeout_s: float) -> str | None:
    """Why a scale-in from ``asked`` to ``replicas`` pods waits (None: it may go ahead)."""
    if replicas >= asked or starting == 0 or starting_for_s > start_timeout_s:
        return None
    return (f"{starting} of {asked} pods still starting ({starting_for_s:.0f} s); "
            f"scale-in to {replicas} waits until they are ready")


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
    start_timeout_s: float = 300.0
    """Pods starting longer than this no longer hold a scale-in back."""
    now: Callable[[], float] = time.monotonic
    marked: dict[str, str] = field(default_factory=dict)
    """Deletion costs this controller set, by pod."""
    starting_since: float | None = None
    """Since when some pod of the Scale has been starting (None: none is)."""
    held: str | None = None
    """Why the last scale-in waited (logged when a wait begins, not every tick)."""

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
            if self._hold_scale_in(scale.replicas, replicas):
                return True
            await self._mark_least_busy(scale, replicas)
        if not self.is_leader():
            log.warning("lost the lease before writing %s; not written", self.deployment)
            return True
        written = await self.api.replace_scale(self.namespace, self.deployment, replicas,
                                               scale.resource_version)
        self.view.saw(written)
        if replicas > scale.replicas and starting_pods(scale.replicas, self.pods()) == 0:
            self.starting_since = self.now()  # the pods just ordered start now
        self.observer.wrote(replicas)
        note = f"{scale.replicas} -> {replicas} pods: {self.reason()}"
        log.info("scaled %s %s", self.deployment, note)
        await self.events.post("Normal", "Scaled", note, "Scale")
        return True

    def _hold_scale_in(self, asked: int, replicas: int) -> bool:
        starting = starting_pods(asked, self.pods())
        now = self.now()
        if starting == 0:
            self.starting_since = None
        elif self.starting_since is None:
            self.starting_since = now
        why = scale_in_held(asked, replicas, starting, now - (self.starting_since or now),
                            self.start_timeout_s)
        if why is not None and self.held is None:
            log.info("%s: %s", self.deployment, why)
        self.held = why
        return why is not None

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
