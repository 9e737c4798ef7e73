"""The simulator's side of the autoscaling seams, so that it drives the production `Controller`:
a virtual clock, a signal source fed by simulated scrapes, and an actuator over the `Fleet`.

Signals reach a policy as they do live: the gateway's counters are scraped on the pipeline's
schedule, become visible `reporting_lag_s` later, and are turned into rates by the production
`RateWindow`; worker counts come fresh from the fleet (a controller knows its own workers).
All of it answers at once, so ``run_sync(controller.step())`` needs no event loop.

    clock = VirtualClock()
    source = ScrapedSignals(pipeline, slo_s, fleet)
    controller = Controller(model, policy, source, FleetActuator(fleet, clock), period,
                            NullControllerObserver(), clock)
    source.scrape(now, counters)              # on each scrape
    clock.time = now
    record = run_sync(controller.step())      # on each decision tick
"""

from __future__ import annotations

from collections import deque

from ebb.autoscale.sources.counters import GatewayCounters, RateWindow
from ebb.autoscale.types import ScalingInput
from ebb.sim.fleet import Fleet
from ebb.sim.world import Pipeline


class VirtualClock:
    """The engine's current time as an `ebb.core.clock.Clock`; the engine sets `time`."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time


class ScrapedSignals:
    """A `SignalSource` over the counters the engine scrapes, read through the pipeline."""

    def __init__(self, pipeline: Pipeline, slo_s: float, fleet: Fleet) -> None:
        self._window = RateWindow(pipeline.rate_window_s)
        self._lag = pipeline.reporting_lag_s
        self._slo_s = slo_s
        self._fleet = fleet
        self._pending: deque[tuple[float, GatewayCounters]] = deque()
        self._visible: ScalingInput | None = None

    def scrape(self, now: float, counters: GatewayCounters) -> None:
        """The gateway's counters as sampled at `now`; the policy sees them after the lag."""
        self._pending.append((now, counters))

    async def read(self, now: float) -> ScalingInput:
        pending = self._pending
        while pending and pending[0][0] + self._lag <= now:
            at, counters = pending.popleft()
            self._visible = self._window.observe(at, counters, self._slo_s)
        fleet = self._fleet
        ready, starting = fleet.ready_count, len(fleet.starting)
        if self._visible is None:
            return ScalingInput.without_signal(now, ready, starting, self._slo_s)
        return self._visible.with_workers(now, ready, starting)


class FleetActuator:
    """An `Actuator` that orders and drains simulated workers at the clock's time."""

    def __init__(self, fleet: Fleet, clock: VirtualClock) -> None:
        self._fleet = fleet
        self._clock = clock

    async def apply(self, desired_workers: int) -> None:
        self._fleet.scale_to(desired_workers, self._clock.now())
