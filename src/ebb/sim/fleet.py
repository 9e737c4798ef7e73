"""The simulated workers of one run: cold starts, the idle line, and scale-in by the worker
pool's own drain-order rule (`ebb.serving.drain_order`).

Plain lists indexed by worker id (ids grow with creation, so a higher id is a newer worker)
rather than an object per worker: the engine's hot loop reads them directly. Worker events
(ready after a cold start, a batch done) share one heap with the engine, ordered by time and
then by the order they were scheduled.

    fleet = Fleet(world.cold_start, cold_rng)
    fleet.add(0.0, ready=True)
    fleet.scale_to(3, now)        # what the simulator's actuator does on a decision
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from itertools import count

import numpy as np

from ebb.serving.drain_order import DrainCandidate, choose_to_drain
from ebb.sim.world import ColdStart

STARTING, IDLE, BUSY, DRAINING, STOPPED = range(5)
"""A worker's states. The engine moves workers between IDLE and BUSY as batches come and go
(keeping `idle` and `busy` in step); the fleet does the rest: order, ready, drain, stop."""
READY_EVENT, DONE_EVENT = 0, 1
"""Heap entries are ``(time, sequence, kind, worker id)``."""


class Fleet:
    """Every worker one run ever ordered, and the heap of their pending events."""

    __slots__ = ("_cold", "_cold_rng", "batch_s", "batch_size", "busy", "created", "draining",
                 "heap", "idle", "seq", "starting", "state", "stopped")

    def __init__(self, cold_start: ColdStart, cold_rng: np.random.Generator) -> None:
        self._cold = cold_start
        self._cold_rng = cold_rng
        self.state: list[int] = []
        self.created: list[float] = []
        self.stopped: list[float] = []
        self.batch_size: list[int] = []  # per worker: requests in the batch in hand
        self.batch_s: list[float] = []  # per worker: wall time of the batch in hand
        self.starting: list[int] = []  # ids of starting workers, oldest first
        self.idle: deque[int] = deque()  # ids of idle workers, the first takes the next batch
        self.busy = 0
        self.draining = 0
        self.heap: list[tuple[float, int, int, int]] = []
        self.seq = count(1)  # ties in the heap go in the order events were scheduled

    @property
    def ready_count(self) -> int:
        return len(self.idle) + self.busy

    @property
    def active(self) -> int:
        """Workers not draining or stopped: what a policy counts as current."""
        return len(self.starting) + len(self.idle) + self.busy

    def start_ready(self, count: int) -> None:
        """`count` workers ready at t = 0 (the warm start every policy gets)."""
        for _ in range(count):
            self.add(0.0, ready=True)

    def add(self, now: float, ready: bool) -> None:
        """Order one worker: ready at once (a warm start), or after a drawn cold start."""
        self.add_worker(now, ready, self.cold_delay(ready))

    def cold_delay(self, ready: bool) -> float:
        """A cold start drawn from the world's distribution (its mean when fixed or ready)."""
        cold = self._cold
        if not ready and cold.cv > 0 and cold.mean_s > 0:
            sigma = cold.sigma
            return cold.mean_s * float(self._cold_rng.lognormal(-sigma * sigma / 2, sigma))
        return cold.mean_s

    def add_worker(self, now: float, ready: bool, delay: float) -> int:
        """Order one worker that is ready after `delay` (at once when `ready`); its id."""
        wid = len(self.state)
        self.created.append(now)
        self.stopped.append(math.inf)
        self.batch_size.append(0)
        self.batch_s.append(0.0)
        if ready or delay <= 0:
            self.state.append(IDLE)
            self.idle.append(wid)
            return wid
        self.state.append(STARTING)
        self.starting.append(wid)
        heapq.heappush(self.heap, (now + delay, next(self.seq), READY_EVENT, wid))
        return wid

    def became_ready(self, wid: int) -> None:
        """A worker's cold start ended (a drained starting worker has stopped already)."""
        if self.state[wid] == STARTING:
            self.starting.remove(wid)
            self.state[wid] = IDLE
            self.idle.append(wid)

    def drained(self, wid: int, now: float) -> None:
        """A draining worker answered its last batch: it stops."""
        self.draining -= 1
        self._stop(wid, now)

    def scale_to(self, target: int, now: float) -> None:
        """Order workers up to `target`, or drain down to it in the pool's drain order:
        starting and idle workers stop at once, busy ones finish their batch first."""
        active = self.active
        for _ in range(target - active):
            self.add(now, ready=False)
        if active > target:
            for wid in self._choose_to_drain(active - target):
                self.drain(wid, now)

    def drain(self, wid: int, now: float) -> None:
        """Take one worker out: a starting or idle one stops, a busy one finishes its batch."""
        if self.state[wid] == STARTING:
            self.starting.remove(wid)
            self._stop(wid, now)
        elif self.state[wid] == IDLE:
            self.idle.remove(wid)
            self._stop(wid, now)
        else:
            self.state[wid] = DRAINING
            self.busy -= 1
            self.draining += 1

    def _choose_to_drain(self, count: int) -> list[int]:
        state = self.state
        ids = [wid for wid in range(len(state)) if state[wid] in (STARTING, IDLE, BUSY)]
        candidates = [DrainCandidate(state[wid] == STARTING, state[wid] == BUSY, float(wid))
                      for wid in ids]
        return [ids[i] for i in choose_to_drain(candidates, count)]

    def _stop(self, wid: int, now: float) -> None:
        self.state[wid] = STOPPED
        self.stopped[wid] = now
