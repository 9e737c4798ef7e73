"""Signals read straight from the gateway's memory: no scrape interval, no reporting lag."""

from __future__ import annotations

from collections.abc import Callable

from ebb.autoscale.sources.counters import GatewayCounters, RateWindow
from ebb.autoscale.types import ScalingInput


class InProcessSource:
    """Reads a counters function of the gateway it lives in; never waits, never fails."""

    def __init__(self, read: Callable[[], GatewayCounters], slo_s: float, window_s: float = 5.0
                 ) -> None:
        self._read = read
        self._slo_s = slo_s
        self._window = RateWindow(window_s)

    async def read(self, now: float) -> ScalingInput:
        return self._window.observe(now, self._read(), self._slo_s)
