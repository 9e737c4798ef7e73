"""Pods for the kubernetes world: workers ordered, started and stopped W at a time.

A pod is scheduled, pulls its image and loads the model once, so its W workers share one
drawn cold start and become ready together. On scale-in a whole pod goes: the pool's drain
order (`ebb.serving.drain_order`) applied to pods — starting pods first, then idle ones, then
busy ones, newest first — which is the order `ebb controller` asks for with
`controller.kubernetes.io/pod-deletion-cost` (least queued work first). A draining pod's
idle workers take no new batch but the pod, and so every one of its workers, is paid for
until its last busy worker has answered.

    fleet = PodFleet(world.cold_start, cold_rng, workers_per_pod=4)
    fleet.scale_to(6, now)      # 6 workers wanted: 2 pods, 8 workers
"""

from __future__ import annotations

import math

import numpy as np

from ebb.serving.drain_order import DrainCandidate, choose_to_drain
from ebb.sim.fleet import BUSY, STARTING, STOPPED, Fleet
from ebb.sim.world import ColdStart


class PodFleet(Fleet):
    """A `Fleet` whose workers come and go in pods; worker counts stay the policy's unit."""

    __slots__ = ("per_pod", "pod_active", "pod_created", "pod_live", "pod_of", "pod_stopped",
                 "pod_workers")

    def __init__(self, cold_start: ColdStart, cold_rng: np.random.Generator,
                 workers_per_pod: int) -> None:
        super().__init__(cold_start, cold_rng)
        if workers_per_pod < 1:
            raise ValueError(f"workers per pod must be at least 1, got {workers_per_pod}")
        self.per_pod = workers_per_pod
        self.pod_of: list[int] = []  # per worker: its pod
        self.pod_workers: list[list[int]] = []  # per pod: its workers' ids
        self.pod_live: list[int] = []  # per pod: workers not stopped yet
        self.pod_active: list[bool] = []  # per pod: not told to terminate
        self.pod_created: list[float] = []
        self.pod_stopped: list[float] = []

    @property
    def active_pods(self) -> int:
        return sum(self.pod_active)

    def start_ready(self, count: int) -> None:
        """Enough ready pods for `count` workers at t = 0."""
        for _ in range(-(-count // self.per_pod)):
            self.add_pod(0.0, ready=True)

    def add_pod(self, now: float, ready: bool) -> None:
        """Order one pod: its workers share one drawn cold start."""
        delay = self.cold_delay(ready)
        pod = len(self.pod_workers)
        ids = [self.add_worker(now, ready, delay) for _ in range(self.per_pod)]
        self.pod_of.extend([pod] * self.per_pod)
        self.pod_workers.append(ids)
        self.pod_live.append(self.per_pod)
        self.pod_active.append(True)
        self.pod_created.append(now)
        self.pod_stopped.append(math.inf)

    def scale_to(self, target: int, now: float) -> None:
        """`target` workers rounded up to whole pods; scale-in terminates whole pods."""
        wanted = -(-target // self.per_pod)
        active = [pod for pod, alive in enumerate(self.pod_active) if alive]
        for _ in range(wanted - len(active)):
            self.add_pod(now, ready=False)
        if len(active) <= wanted:
            return
        state = self.state
        candidates = [DrainCandidate(state[self.pod_workers[pod][0]] == STARTING,
                                     any(state[wid] == BUSY for wid in self.pod_workers[pod]),
                                     float(pod)) for pod in active]
        for index in choose_to_drain(candidates, len(active) - wanted):
            pod = active[index]
            self.pod_active[pod] = False
            for wid in self.pod_workers[pod]:
                self.drain(wid, now)

    def _stop(self, wid: int, now: float) -> None:
        """A worker is done; its pod (and the bill for all its workers) ends with the last."""
        self.state[wid] = STOPPED
        pod = self.pod_of[wid]
        self.pod_live[pod] -= 1
        if self.pod_live[pod] == 0:
            self.pod_stopped[pod] = now
            for member in self.pod_workers[pod]:
                self.stopped[member] = now
