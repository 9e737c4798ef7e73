"""One detector per key signal of an inference service, fed a snapshot once a second."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ebb.anomaly._detector import AnomalyDetector, AnomalyReading, DetectorConfig, Direction

SIGNALS: Final = ("arrival_rate", "latency", "queue_wait", "error_ratio")
"""The signals, in order; also the values of the ``signal`` label of the exported gauges."""


@dataclass(frozen=True, slots=True)
class SignalSnapshot:
    """The key signals over the last window (about a second). NaN where there was no data.

        SignalSnapshot(arrival_rate=120.0, latency=0.085, queue_wait=0.004, error_ratio=0.0)
    """

    arrival_rate: float
    """Requests arrived per second."""
    latency: float
    """Request latency in seconds (p99, or the mean, of the window); NaN if none answered."""
    queue_wait: float
    """Mean time answered requests waited in the queue, seconds; NaN if none answered."""
    error_ratio: float
    """Failed answers / all answers (0..1); NaN if none answered."""


DEFAULT_SIGNAL_CONFIGS: Final[Mapping[str, DetectorConfig]] = MappingProxyType({
    # A drop is what hurts (a broken client, a routing mistake); a surge is the autoscaler's job
    # and shows in latency and queue wait if it is not met. Below 0.5 requests/s the service is
    # idle and a "drop" says nothing.
    "arrival_rate": DetectorConfig(direction=Direction.DOWN, min_spread_rel=0.05,
                                   min_spread_abs=0.5),
    # Latency regressions from about +25 % (4 x the 5 % floor) or +8 ms.
    "latency": DetectorConfig(direction=Direction.UP, min_spread_rel=0.05, min_spread_abs=0.002),
    # Queue wait is near zero when the pool keeps up: judge it in absolute terms (10 ms), so
    # an active anomaly needs about 40 ms more wait than usual.
    "queue_wait": DetectorConfig(direction=Direction.UP, min_spread_rel=0.1,
                                 min_spread_abs=0.010),
    # Error ratios are mostly zero, so their MAD is zero: 0.5 percentage points is the floor,
    # and an active error anomaly needs about 2 points above the usual ratio.
    "error_ratio": DetectorConfig(direction=Direction.UP, min_spread_rel=0.1,
                                  min_spread_abs=0.005),
})
"""Per-signal defaults: the bad direction and the smallest spread worth judging against."""


class SignalAnomalyMonitor:
    """The detectors of one model's key signals. Call `update` once a second.

        monitor = SignalAnomalyMonitor(DEFAULT_SIGNAL_CONFIGS)
        for signal, reading in monitor.update(now, snapshot).items(): ...
    """

    def __init__(self, configs: Mapping[str, DetectorConfig]) -> None:
        if set(configs) != set(SIGNALS):
            raise ValueError(f"need a config for each of {list(SIGNALS)}, got {sorted(configs)}")
        self._detectors = {signal: AnomalyDetector(configs[signal]) for signal in SIGNALS}

    def update(self, now: float, snapshot: SignalSnapshot) -> dict[str, AnomalyReading]:
        """Judge one snapshot; returns a reading per signal, keyed by the names in `SIGNALS`."""
        return {signal: detector.update(now, getattr(snapshot, signal))
                for signal, detector in self._detectors.items()}

    def readings(self) -> dict[str, AnomalyReading]:
        """The latest reading per signal, without feeding anything (for a scrape-time read)."""
        return {signal: detector.reading for signal, detector in self._detectors.items()}
