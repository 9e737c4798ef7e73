"""Once a second: each model's dashboard timeline and its anomaly monitors.

The sampler reads the same ``ModelSnapshot`` the metrics and the autoscaler read, turns it into
a timeline sample, and feeds that second's signals to the model's anomaly watch. It is driven
by the host's clock and stopped with the host's ``stopping`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping

from ebb.anomaly import ModelWatch
from ebb.autoscale.sources.counters import GatewayCounters
from ebb.core.clock import Clock
from ebb.core.snapshot import ModelSnapshot
from ebb.dashboard.feed import DashboardFeed


class DashboardSampler:
    def __init__(self, feeds: Mapping[str, DashboardFeed], watches: Mapping[str, ModelWatch],
                 snapshot: Callable[[str], ModelSnapshot], desired: Callable[[str], int],
                 clock: Clock) -> None:
        self._feeds = feeds
        self._watches = watches
        self._snapshot = snapshot
        self._desired = desired
        self._clock = clock

    def tick(self) -> None:
        now = self._clock.now()
        for name, feed in self._feeds.items():
            snap = self._snapshot(name)
            signals = feed.tick(now, GatewayCounters.of(snap), snap.rejections, self._desired(name))
            if signals is not None:
                feed.add_anomaly(now, self._watches[name].tick(now, signals))

    async def run(self, stopping: asyncio.Event, interval_s: float = 1.0) -> None:
        while not stopping.is_set():
            self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
