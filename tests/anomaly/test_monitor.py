"""The per-signal monitor: one snapshot in, one reading per signal out, keyed by label value."""

from __future__ import annotations

import math

import pytest

from ebb.anomaly import DEFAULT_SIGNAL_CONFIGS, SIGNALS, SignalAnomalyMonitor, SignalSnapshot

NORMAL = SignalSnapshot(arrival_rate=100.0, latency=0.080, queue_wait=0.003, error_ratio=0.001)


def test_each_signal_gets_a_reading_and_only_the_broken_one_turns_active() -> None:
    monitor = SignalAnomalyMonitor(DEFAULT_SIGNAL_CONFIGS)
    for second in range(3600):
        readings = monitor.update(float(second), NORMAL)
    assert list(readings) == list(SIGNALS)
    assert not any(r.active for r in readings.values())
    outage = SignalSnapshot(arrival_rate=20.0, latency=0.080, queue_wait=0.003,
                            error_ratio=0.001)
    for second in range(3600, 3900):
        readings = monitor.update(float(second), outage)
    assert {s for s, r in readings.items() if r.active} == {"arrival_rate"}
    assert monitor.readings() == readings


def test_a_window_without_answers_holds_the_answer_signals() -> None:
    monitor = SignalAnomalyMonitor(DEFAULT_SIGNAL_CONFIGS)
    before = monitor.update(0.0, NORMAL)
    idle = monitor.update(1.0, SignalSnapshot(0.0, math.nan, math.nan, math.nan))
    assert idle["latency"] is before["latency"]
    assert idle["arrival_rate"] is not before["arrival_rate"]


def test_every_signal_needs_a_config() -> None:
    configs = {k: v for k, v in DEFAULT_SIGNAL_CONFIGS.items() if k != "latency"}
    with pytest.raises(ValueError, match="latency"):
        SignalAnomalyMonitor(configs)
