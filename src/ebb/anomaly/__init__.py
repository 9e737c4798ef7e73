"""Anomaly detection: is a key signal of the service, or a model's data, off its usual shape?

Two monitors, both pure (no I/O, no clock reads: time is an argument) and cheap enough to run
in the gateway::

    per second: SignalSnapshot(arrival rate, latency, queue wait, error ratio)
        ─▶ SignalAnomalyMonitor (one AnomalyDetector per signal)
        ─▶ AnomalyReading per signal (score, active, baseline, spread)
                                         ─▶ ebb_anomaly_score{signal}, ebb_anomaly_active{signal}
    per request: input and output tensors
        ─▶ DriftMonitor.observe(name, array)
        ─▶ DriftMonitor.readings(): DriftReading per tensor (psi, level, active)
                                         ─▶ the same gauges, signal="drift:<name>"

A detector compares the smoothed signal with what the signal usually is at this time of day
(median of the same 5-minute slot over the last 7 days; a robust EWMA until a day has been seen)
in units of its usual spread, and only in the direction that hurts. See docs/anomaly.md.

    monitor = SignalAnomalyMonitor(DEFAULT_SIGNAL_CONFIGS)
    readings = monitor.update(now, SignalSnapshot(120.0, 0.085, 0.004, 0.0))
"""

from __future__ import annotations

from ebb.anomaly._detector import (
    AnomalyDetector,
    AnomalyReading,
    DetectorConfig,
    Direction,
    Mode,
)
from ebb.anomaly._drift import (
    DEFAULT_DRIFT_CONFIG,
    MAJOR_PSI,
    MINOR_PSI,
    DriftConfig,
    DriftLevel,
    DriftMonitor,
    DriftReading,
    drift_level,
    psi,
)
from ebb.anomaly._monitor import (
    DEFAULT_SIGNAL_CONFIGS,
    SIGNALS,
    SignalAnomalyMonitor,
    SignalSnapshot,
)
from ebb.anomaly._watch import ModelWatch

__all__ = [
    "DEFAULT_DRIFT_CONFIG",
    "DEFAULT_SIGNAL_CONFIGS",
    "MAJOR_PSI",
    "MINOR_PSI",
    "SIGNALS",
    "AnomalyDetector",
    "AnomalyReading",
    "DetectorConfig",
    "Direction",
    "DriftConfig",
    "DriftLevel",
    "DriftMonitor",
    "DriftReading",
    "Mode",
    "ModelWatch",
    "SignalAnomalyMonitor",
    "SignalSnapshot",
    "drift_level",
    "psi",
]
