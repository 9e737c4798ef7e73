"""One autoscaling ``Controller`` per model, built from the settings before any worker starts.

The controller is the standalone one ``ebb controller`` and the simulator also host; here its
source reads the gateway's snapshot in-process and its actuator adds or drains worker
processes. A bad policy name or knob fails here, as one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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
    """The app's controllers, and what the dashboard asks of them."""

    def __init__(self, controllers: Mapping[str, Controller],
                 active: Callable[[str], int]) -> None:
        self.controllers = dict(controllers)
        self._active = active

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
        for name, controller in self.controllers.items():
            background.spawn(controller.run(background.stopping), f"autoscaler {name}")


def build_controllers(settings: ServeSettings, pools: Mapping[str, WorkerPool],
                      snapshot: Callable[[str], ModelSnapshot], metrics: AutoscalerMetrics,
                      clock: Clock) -> Scaling:
    """Controllers by model name; none when the settings do not autoscale."""
    active = _active(pools)
    if not settings.autoscaling:
        return Scaling({}, active)
    low = settings.min_workers or 0
    high = settings.max_workers if settings.max_workers is not None else low
    controllers = {}
    for name, pool in pools.items():
        policy = build_policy(settings.policy, settings.policy_options, Limits(low, high),
                              scale_in_delay_s=settings.scale_in_delay_s)
        source = InProcessSource(_counters(snapshot, name), settings.slo_ms / 1000)
        controllers[name] = Controller(name, policy, source, LocalActuator(pool.scale_to),
                                       settings.autoscale_interval_s, metrics, clock)
        metrics.configured(name, settings.policy, low, high, settings.autoscale_interval_s)
    return Scaling(controllers, active)


def _active(pools: Mapping[str, WorkerPool]) -> Callable[[str], int]:
    return lambda name: pools[name].counts().active


def _counters(snapshot: Callable[[str], ModelSnapshot], name: str
              ) -> Callable[[], GatewayCounters]:
    return lambda: GatewayCounters.of(snapshot(name))
