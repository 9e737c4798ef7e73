"""The autoscaling loop, hosted anywhere: read signals, ask the policy, apply, say why.

The same ``Controller`` runs in three worlds. ``ebb serve`` hosts one per model, reading the
gateway in-process and adding or draining worker processes; ``ebb controller`` hosts one per
Kubernetes workload, scraping pods and writing the scale subresource; the simulator drives
``step`` with ``run_sync`` on its virtual clock. Only the source, the actuator and the clock
differ.

    controller = Controller("m", policy, source, actuator, 0.5, observer, MonotonicClock())
    await controller.run(stopping)          # or: record = await controller.step()

Every decision that changes the count is logged with the policy's reason and kept in a short
history (the dashboard's list); every tick is reported to the observer (the metrics).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

from ebb.autoscale.types import Policy, ScalingInput
from ebb.core.clock import Clock

log = logging.getLogger("ebb.autoscale")


class SignalSource(Protocol):
    """Where one workload's signals come from (in-process, ``/metrics`` scrapes, PromQL)."""

    async def read(self, now: float) -> ScalingInput: ...


class Actuator(Protocol):
    """What turns a desired count into workers (processes, pods, simulated workers)."""

    async def apply(self, desired_workers: int) -> None: ...


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    at: float
    policy: str
    current: int
    desired: int
    reason: str
    queue_depth: int

    @property
    def direction(self) -> str:
        if self.desired > self.current:
            return "up"
        if self.desired < self.current:
            return "down"
        return "hold"


class ControllerObserver(Protocol):
    """Told every tick; ``ebb.metrics`` exports it (desired workers, decisions by direction)."""

    def decided(self, model: str, policy: str, direction: str, current: int,
                desired: int) -> None: ...


class NullControllerObserver:
    """For hosts that export nothing (the simulator)."""

    def decided(self, model: str, policy: str, direction: str, current: int,
                desired: int) -> None:
        pass


class Controller:
    def __init__(self, model: str, policy: Policy[Any], source: SignalSource,
                 actuator: Actuator, interval_s: float, observer: ControllerObserver,
                 clock: Clock, history: int = 200) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.model = model
        self.policy = policy
        self._source = source
        self._actuator = actuator
        self.interval_s = interval_s
        self._observer = observer
        self._clock = clock
        self._state = policy.initial_state()
        self.history: deque[DecisionRecord] = deque(maxlen=history)
        self.last: DecisionRecord | None = None

    async def step(self) -> DecisionRecord:
        """One tick at the clock's time: read, decide, and apply when the count changes."""
        at = self._clock.now()
        signal = await self._source.read(at)
        decision, self._state = self.policy.decide(signal, self._state)
        record = DecisionRecord(at, self.policy.name, signal.current_workers,
                                decision.desired_workers, decision.reason, signal.queue_depth)
        self.last = record
        self._observer.decided(self.model, record.policy, record.direction, record.current,
                               record.desired)
        if record.direction != "hold":
            self.history.append(record)
            log.info("model %s: %s %d -> %d workers: %s", self.model, self.policy.name,
                     record.current, record.desired, decision.reason)
            await self._actuator.apply(decision.desired_workers)
        return record

    async def run(self, stopping: asyncio.Event) -> None:
        """Tick every ``interval_s`` until ``stopping`` is set; a failed tick is logged."""
        while not stopping.is_set():
            try:
                await self.step()
            except Exception:
                log.exception("model %s: autoscaler tick failed; trying again", self.model)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.interval_s)
