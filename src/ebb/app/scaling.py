"""One autoscaling ``Controller`` per model, built from the settings before any worker starts.

The controller is the standalone one ``ebb controller`` and the simulator also host; here its
source reads the gateway's snapshot in-process and its actuator adds or drains worker
processes. A bad policy name or knob fails here, as one line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from ebb.app.background import Background
from ebb.autoscale.actuators.local import LocalActuator
from ebb.autoscale.controller import Controller, DecisionRecord
from ebb.autoscale.policies import Limits, build_policy
from ebb.autoscale.sources.counters import GatewayCounters
from ebb.autoscale.sources.inprocess import InProcessSource
from ebb.config import ServeSettings
from ebb.core.clock import Clock
from ebb.core.snapshot import ModelSnapshot
from ebb.metrics.instruments import AutoscalerMetrics
from ebb.serving.workers import WorkerPool


class Scaling:
    """The app's controllers, and what the dashboard asks of them. ``add`` and ``remove``
    follow model versions loaded and unloaded while serving (``ebb.repository``)."""

    def __init__(self, controllers: Mapping[str, Controller],
                 pools: Mapping[str, WorkerPool],
                 make: Callable[[str, WorkerPool], Controller] | None = None) -> None:
        self.controllers = dict(controllers)
        self._pools = dict(pools)
        self._make = make
        self._background: Background | None = None
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    def _active(self, name: str) -> int:
        pool = self._pools.get(name)
        return pool.counts().active if pool is not None else 0

    def add(self, name: str, pool: WorkerPool) -> None:
        self._pools[name] = pool
        if self._make is None:
            return
        controller = self.controllers[name] = self._make(name, pool)
        if self._background is not None:
            self._tasks[name] = self._background.spawn(
                controller.run(self._background.stopping), f"autoscaler {name}")

    def remove(self, name: str) -> None:
        self._pools.pop(name, None)
        self.controllers.pop(name, None)
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()

    def decisions(self, name: str) -> tuple[DecisionRecord, ...]:
        controller = self.controllers.get(name)
        return tuple(controller.history) if controller else ()

    def desired(self, name: str) -> int:
        """The last decision, or the workers that exist when nothing decides."""
        controller = self.controllers.get(name)
        if controller is not None and controller.last is not None:
            return controller.last.desired
        return self._active(name)

    def spawn(self, background: Background) -> None:
        self._background = background
        for name, controller in self.controllers.items():
            self._tasks[name] = background.spawn(controller.run(background.stopping),
                                                 f"autoscaler {name}")


def build_controllers(settings: ServeSettings, pools: Mapping[str, WorkerPool],
                      snapshot: Callable[[str], ModelSnapshot], metrics: AutoscalerMetrics,
                      clock: Clock) -> Scaling:
    """Controllers by model name; none when the settings do not autoscale."""
    if not settings.autoscaling:
        return Scaling({}, pools)
    low = settings.min_workers or 0
    high = settings.max_workers if settings.max_workers is not None else low

    def make(name: str, pool: WorkerPool) -> Controller:
        policy = build_policy(settings.policy, settings.policy_options, Limits(low, high),
                              scale_in_delay_s=settings.scale_in_delay_s,
                              max_batch_size=settings.max_batch_size)
        source = InProcessSource(_counters(snapshot, name), settings.slo_ms / 1000)
        metrics.configured(name, settings.policy, low, high, settings.autoscale_interval_s)
        return Controller(name, policy, source, LocalActuator(pool.scale_to),
                          settings.autoscale_interval_s, metrics, clock)

    return Scaling({name: make(name, pool) for name, pool in pools.items()}, pools, make)


def _counters(snapshot: Callable[[str], ModelSnapshot], name: str
              ) -> Callable[[], GatewayCounters]:
    return lambda: GatewayCounters.of(snapshot(name))
