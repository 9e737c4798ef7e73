"""The live autoscaling loop: read signals, ask the policy, apply the decision, say why.

``step(now)`` is one synchronous tick (tests drive it with a fake clock); ``run`` repeats it
every ``interval_s`` until stopped. Every decision that changes the worker count is logged with
the policy's reason and kept in a short history for dashboards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ebb.autoscale.types import Policy, ScalingDecision, ScalingInput

log = logging.getLogger("ebb.autoscale")


class SignalSource(Protocol):
    def read(self, now: float) -> ScalingInput: ...


class Actuator(Protocol):
    def apply(self, desired_workers: int) -> None: ...


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


class Controller:
    def __init__(self, model: str, policy: Policy[Any], source: SignalSource,
                 actuator: Actuator, interval_s: float, observer: ControllerObserver,
                 clock: Callable[[], float], history: int = 200) -> None:
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

    def step(self, now: float | None = None) -> ScalingDecision:
        at = self._clock() if now is None else now
        signal = self._source.read(at)
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
            self._actuator.apply(decision.desired_workers)
        return decision

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("model %s: autoscaler tick failed; trying again", self.model)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
