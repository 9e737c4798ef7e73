"""PSI and the drift monitor: identical data reads ~0, shifted data reads major, cheaply."""

from __future__ import annotations

import numpy as np
import pytest

from ebb.anomaly import DEFAULT_DRIFT_CONFIG, DriftConfig, DriftMonitor, drift_level, psi

SMALL = DriftConfig(reference_size=500, window_size=500)


def normal(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape)


def test_psi_of_identical_and_shifted_distributions() -> None:
    reference, live = normal(0, (5000,)), normal(1, (5000,))
    assert psi(reference, reference) == 0.0
    assert psi(reference, live) < 0.02
    assert 0.04 < psi(reference, live + 0.3) < drift_level_bounds("major")
    assert psi(reference, live + 1.0) > 0.25
    assert psi(reference, live * 2.0) > 0.25


def drift_level_bounds(level: str) -> float:
    return {"minor": 0.1, "major": 0.25}[level]


def test_values_outside_the_reference_and_nans_are_a_shift() -> None:
    constant = np.zeros(1000)
    assert psi(constant, np.ones(1000)) > 0.25
    assert psi(constant, -np.ones(1000)) > 0.25
    assert psi(normal(0, (1000,)), np.full(1000, np.nan)) > 0.25


def test_the_usual_thresholds() -> None:
    assert [drift_level(v) for v in (0.05, 0.1, 0.2, 0.25, 3.0)] == [
        "none", "minor", "minor", "major", "major"]


def stream(monitor: DriftMonitor, name: str, rows: np.ndarray) -> None:
    for row in rows:
        monitor.observe(name, row[None, :])


def test_the_first_rows_are_the_reference_and_psi_waits_for_a_full_window() -> None:
    monitor = DriftMonitor(SMALL)
    stream(monitor, "input:x", normal(0, (999, 4)))
    assert monitor.psi() == {}
    stream(monitor, "input:x", normal(1, (1, 4)))
    assert monitor.psi()["input:x"] < 0.1


def test_a_shift_in_one_feature_of_many_turns_the_reading_active_with_hysteresis() -> None:
    monitor = DriftMonitor(SMALL)
    stream(monitor, "input:x", normal(0, (1000, 8)))
    assert monitor.readings()["input:x"].level == "none"
    shifted = normal(1, (500, 8))
    shifted[:, 5] += 1.0
    stream(monitor, "input:x", shifted)
    reading = monitor.readings()["input:x"]
    assert reading.level == "major" and reading.active
    back = normal(2, (500, 8))
    back[:, 5] += 0.3                                  # PSI ~0.1-0.2: minor, still active
    stream(monitor, "input:x", back)
    reading = monitor.readings()["input:x"]
    assert reading.level == "minor" and reading.active
    stream(monitor, "input:x", normal(3, (500, 8)))
    assert not monitor.readings()["input:x"].active


def test_a_provided_reference_is_used_at_once() -> None:
    monitor = DriftMonitor(SMALL)
    monitor.set_reference("output:score", normal(0, (2000,)))
    stream(monitor, "output:score", normal(1, (500, 1)) + 1.0)
    assert monitor.psi()["output:score"] > 0.25
    with pytest.raises(ValueError, match="at least 10"):
        monitor.set_reference("output:score", np.zeros(3))


def test_wide_tensors_are_summarised_and_a_changed_width_starts_over() -> None:
    monitor = DriftMonitor(SMALL)
    stream(monitor, "input:image", normal(0, (1000, 256)))
    stream(monitor, "input:image", normal(1, (500, 256)) + 0.2)   # brighter: the mean moves
    assert monitor.psi()["input:image"] > 0.25
    stream(monitor, "input:small", normal(2, (10, 3)))
    stream(monitor, "input:small", normal(3, (10, 5)))            # variable width
    stream(monitor, "input:small", normal(4, (990, 5)))
    assert monitor.psi()["input:small"] < 0.1


def test_batches_strings_and_sampling() -> None:
    monitor = DriftMonitor(DriftConfig(reference_size=100, window_size=100,
                                       max_rows_per_observation=4, sample_every=2))
    monitor.observe("input:text", np.array([b"hello", b"world"]))
    for seed in range(98):
        monitor.observe("input:batch", normal(seed, (32, 2)))   # 4 rows kept, 1 call in 2
    assert monitor.psi() == {}          # 49 kept x 4 rows: 4 short of reference + window
    monitor.observe("input:batch", normal(98, (32, 2)))
    assert set(monitor.psi()) == {"input:batch"}


def test_the_same_stream_gives_the_same_psi() -> None:
    results = []
    for _ in range(2):
        monitor = DriftMonitor(DEFAULT_DRIFT_CONFIG)
        stream(monitor, "input:x", normal(0, (2000, 3)))
        results.append(monitor.psi())
    assert results[0] == results[1]


def test_inconsistent_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="bins"):
        DriftConfig(bins=20, reference_size=10)
    with pytest.raises(ValueError, match="sample_every"):
        DriftConfig(sample_every=0)
