"""The detector on hand-made series: steps fire fast, the daily shape never does, and `active`
holds steady through noise around the thresholds."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable

import numpy as np
import pytest

from ebb.anomaly import AnomalyDetector, AnomalyReading, DetectorConfig, Direction

DAY = 86_400.0


def feed(detector: AnomalyDetector, values: Iterable[float], step_s: float,
         start_s: float = 0.0) -> list[AnomalyReading]:
    return [detector.update(start_s + i * step_s, float(v)) for i, v in enumerate(values)]


def first_active(readings: list[AnomalyReading]) -> int | None:
    return next((i for i, r in enumerate(readings) if r.active), None)


def daily(days: float, step_s: float, seed: int, noise: float = 0.02) -> np.ndarray:
    """A daily sine from 30 to 170 (peak at 16:00) with 2 % multiplicative noise."""
    t = np.arange(int(days * DAY / step_s)) * step_s
    shape = 100 * (1 + 0.7 * np.sin(2 * np.pi * (t / DAY - 10 / 24)))
    noisy: np.ndarray = shape * np.random.default_rng(seed).lognormal(0, noise, size=t.size)
    return noisy


def test_a_step_up_after_a_flat_stretch_fires_within_a_few_minutes() -> None:
    detector = AnomalyDetector(DetectorConfig(direction=Direction.UP))
    noise = np.random.default_rng(1).normal(0, 0.002, size=1080)
    before = feed(detector, 0.100 + noise[:720], step_s=10)
    after = feed(detector, 0.150 + noise[720:], step_s=10, start_s=7200)
    assert not any(r.active for r in before)
    fired = first_active(after)
    assert fired is not None and fired <= 20          # within 200 s: the 5-min median turns
    assert after[fired].mode == "ewma"                # no season seen yet: the EWMA fallback


def test_only_the_bad_direction_counts() -> None:
    up = AnomalyDetector(DetectorConfig(direction=Direction.UP))
    down = AnomalyDetector(DetectorConfig(direction=Direction.DOWN))
    series = [100.0] * 360 + [50.0] * 60
    assert not any(r.active for r in feed(up, series, step_s=10))
    drop = feed(down, series, step_s=10)
    assert first_active(drop) is not None
    assert drop[-1].score > 4
    assert not any(r.active for r in feed(AnomalyDetector(DetectorConfig(Direction.DOWN)),
                                          [100.0] * 360 + [200.0] * 60, step_s=10))


def test_the_daily_shape_alone_never_fires_and_the_season_is_learned() -> None:
    for direction in (Direction.UP, Direction.DOWN):
        detector = AnomalyDetector(DetectorConfig(direction=direction))
        readings = feed(detector, daily(3, 60, seed=2), step_s=60)
        assert not any(r.active for r in readings)
        assert {r.mode for r in readings[1440:]} == {"seasonal"}
        assert max(r.score for r in readings[1440:]) < 3


def test_after_a_season_a_long_regression_stays_active_instead_of_being_learned() -> None:
    series = daily(3, 60, seed=3)
    start, end = int(1.5 * 1440), int(1.5 * 1440) + 240    # day 2, 12:00-16:00: x1.5
    series[start:end] *= 1.5
    readings = feed(AnomalyDetector(DetectorConfig(direction=Direction.UP)), series, step_s=60)
    window = [r.active for r in readings[start:end]]
    assert sum(window) / len(window) > 0.9
    assert not any(r.active for r in readings[:start] + readings[end + 10:])


# Deterministic scores: no noise, spread at its 5 % floor (5 at a baseline of 100), no smoothing,
# a fallback level that barely moves.
EXACT = DetectorConfig(direction=Direction.UP, fallback_halflife_s=1e9, smoothing_window_s=1.0,
                       warmup_s=0.0, off_after_s=120.0)


def test_hysteresis_holds_between_the_thresholds_and_clears_only_after_the_delay() -> None:
    detector = AnomalyDetector(EXACT)
    feed(detector, [100.0] * 1000, step_s=10)
    on = feed(detector, [125.0], step_s=10, start_s=10_000)           # score ~5 >= 4
    middle = feed(detector, [112.0] * 30, step_s=10, start_s=10_010)  # score ~2.4: in between
    low = feed(detector, [104.0] * 20, step_s=10, start_s=10_310)     # score ~0.8 < 2
    assert on[0].active and 4 < on[0].score < 6
    assert all(r.active and 2 < r.score < 4 for r in middle)
    assert [r.active for r in low[:12]] == [True] * 12                # < 120 s below
    assert not any(r.active for r in low[12:])


def test_a_score_hovering_around_the_on_threshold_does_not_flap() -> None:
    detector = AnomalyDetector(EXACT)
    feed(detector, [100.0] * 1000, step_s=10)
    hovering = [121.0, 118.0] * 60                                   # scores ~4.2 and ~3.6
    readings = feed(detector, hovering, step_s=10, start_s=10_000)
    flips = sum(a.active != b.active for a, b in itertools.pairwise(readings))
    assert readings[0].active and flips == 0


def test_nothing_is_active_during_warm_up() -> None:
    detector = AnomalyDetector(DetectorConfig(direction=Direction.UP, warmup_s=600))
    readings = feed(detector, [1.0, 1.0, 50.0, 50.0, 50.0, 50.0], step_s=60)
    assert all(r.mode == "warmup" and r.score == 0 and not r.active for r in readings)


def test_nan_means_no_data_and_keeps_the_previous_verdict() -> None:
    detector = AnomalyDetector(DetectorConfig())
    before = feed(detector, [1.0] * 30, step_s=60)[-1]
    assert detector.update(1800.0, math.nan) is before
    assert detector.reading is before


def test_the_same_series_gives_the_same_readings() -> None:
    series = daily(2, 120, seed=4)
    series[900:960] *= 2
    first = feed(AnomalyDetector(DetectorConfig()), series, step_s=120)
    second = feed(AnomalyDetector(DetectorConfig()), series, step_s=120)
    assert first == second
    assert any(r.active for r in first)


@pytest.mark.parametrize("kwargs", [
    {"off_score": 5.0, "on_score": 4.0},
    {"slot_s": 7000.0},
    {"smoothing_window_s": 0.0},
    {"min_spread_rel": -0.1},
    {"seasons_kept": 0},
])
def test_inconsistent_configs_are_refused_with_the_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"\d"):
        DetectorConfig(**kwargs)  # type: ignore[arg-type]
