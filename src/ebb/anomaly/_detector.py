"""An online anomaly detector for one signal that knows the signal's daily shape.

Each value goes through four steps::

    value ─▶ smooth: median of the last `smoothing_window_s` (an isolated spike is ignored)
          ─▶ expect: seasonal profile of this time of day   (once the slot has been seen)
                     else a robust EWMA level and spread      (the first season)
          ─▶ score = how many spreads the smoothed value is from the baseline, in the bad
                     direction only (latency up, traffic down, errors up)
          ─▶ active: on at `on_score`, off once below `off_score` for `off_after_s` (hysteresis),
                     never during the first `warmup_s`

Once a season has been seen, an offset (an EWMA with half-life `offset_halflife_s`) follows a
day that runs above or below its usual level, so a busier Monday is not an anomaly.

Everything learns the smoothed value clipped to within `learn_clip` spreads of what was
expected, so an incident barely teaches the detector that it is normal, while a lasting change
becomes the new normal after half a day (+30 %) to a few days (x3).
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from ebb.anomaly._seasonal import SeasonalProfile

Mode = Literal["warmup", "ewma", "seasonal"]
"""Which baseline a reading used: none yet, the first-season EWMA, or the seasonal profile."""

SCORE_CAP = 100.0
"""Scores are reported up to this; beyond it, how far is no longer useful to know."""
_MEAN_ABS_TO_SIGMA = math.sqrt(math.pi / 2)
"""Turns a mean absolute deviation into a standard deviation for normal data."""
_TINY_SPREAD = 1e-12


class Direction(StrEnum):
    """Which way a change is bad: ``UP`` for latency and errors, ``DOWN`` for traffic."""

    UP = "up"
    DOWN = "down"
    BOTH = "both"


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """How one signal is judged. The defaults suit a signal sampled about once a second.

        DetectorConfig(direction=Direction.DOWN, min_spread_rel=0.1)   # arrival rate
    """

    direction: Direction = Direction.UP
    """The bad direction; a change the other way scores 0."""
    period_s: float = 86_400.0
    """Length of a season: the daily shape repeats after this long."""
    slot_s: float = 300.0
    """Width of a time-of-day slot of the seasonal profile; `period_s` holds a whole number."""
    seasons_kept: int = 7
    """Seasons (days) of slot summaries kept; the baseline is their median."""
    fallback_halflife_s: float = 600.0
    """Half-life of the EWMA baseline used until a slot has a season of history."""
    offset_halflife_s: float = 28_800.0
    """Half-life of the offset that follows a day running above or below its usual level."""
    smoothing_window_s: float = 300.0
    """The value judged is the median of the values of this last stretch of time."""
    warmup_s: float = 600.0
    """No reading is active before this much time has passed since the first value."""
    on_score: float = 4.0
    """Score at which the signal becomes active."""
    off_score: float = 2.0
    """Score the signal must stay below, for `off_after_s`, to become inactive again."""
    off_after_s: float = 120.0
    """How long the score must stay below `off_score` before active clears."""
    min_spread_abs: float = 0.0
    """Floor of the spread, in the signal's unit: changes smaller than a few of these pass."""
    min_spread_rel: float = 0.05
    """Floor of the spread as a fraction of the baseline."""
    learn_clip: float = 3.0
    """Values are learned clipped to within this many spreads of what was expected."""

    def __post_init__(self) -> None:
        positive = {"period_s": self.period_s, "slot_s": self.slot_s,
                    "fallback_halflife_s": self.fallback_halflife_s,
                    "offset_halflife_s": self.offset_halflife_s,
                    "smoothing_window_s": self.smoothing_window_s,
                    "on_score": self.on_score, "learn_clip": self.learn_clip}
        bad = {name: value for name, value in positive.items() if not value > 0}
        if bad:
            raise ValueError(f"must be positive: {bad}")
        not_negative = {"warmup_s": self.warmup_s, "off_score": self.off_score,
                        "off_after_s": self.off_after_s, "min_spread_abs": self.min_spread_abs,
                        "min_spread_rel": self.min_spread_rel}
        bad = {name: value for name, value in not_negative.items() if value < 0}
        if bad:
            raise ValueError(f"must not be negative: {bad}")
        if self.off_score > self.on_score:
            raise ValueError(f"off_score must not exceed on_score, got off {self.off_score}, "
                             f"on {self.on_score}")
        if self.seasons_kept < 1:
            raise ValueError(f"seasons_kept must be at least 1, got {self.seasons_kept}")
        slots = round(self.period_s / self.slot_s)
        if slots < 2 or not math.isclose(slots * self.slot_s, self.period_s, rel_tol=1e-9):
            raise ValueError(f"period_s must be a whole number (>= 2) of slots, got period "
                             f"{self.period_s} s, slot {self.slot_s} s")


@dataclass(frozen=True, slots=True)
class AnomalyReading:
    """The verdict on one value. Export `score` and `active`; the rest explains them."""

    score: float
    """Spreads between the smoothed value and the baseline in the bad direction (>= 0)."""
    active: bool
    """True while the signal is judged anomalous (with hysteresis)."""
    baseline: float
    """What the signal usually is now (NaN before the first value)."""
    spread: float
    """The signal's usual spread around the baseline now, floors applied."""
    smoothed: float
    """The value judged: the median of the last `smoothing_window_s`."""
    mode: Mode
    """Which baseline was used."""


class AnomalyDetector:
    """Online detector for one signal: feed every value, read whether it is anomalous.

    Explicit mutable state (a seasonal profile is a few thousand floats); no I/O, no clock:
    time is `now`, in seconds on any clock with a fixed origin (wall-clock seconds keep the
    slots aligned with the time of day). A NaN value means "no data this time" (for example no
    request answered, so no latency) and returns the previous verdict unchanged.

        detector = AnomalyDetector(DetectorConfig(direction=Direction.UP))
        reading = detector.update(now, p99_latency_s)
    """

    def __init__(self, config: DetectorConfig) -> None:
        self.config = config
        self._profile = SeasonalProfile(config.period_s, config.slot_s, config.seasons_kept)
        self._first_t: float | None = None
        self._last_t = 0.0
        self._count = 0
        self._recent: deque[tuple[float, float]] = deque()
        self._recent_sorted: list[float] = []
        self._level = 0.0
        self._deviation = 0.0
        self._offset = 0.0
        """How far today runs above the seasonal profile (an EWMA of the residual)."""
        self._active = False
        self._below_since: float | None = None
        self._reading = AnomalyReading(0.0, False, math.nan, math.nan, math.nan, "warmup")

    @property
    def reading(self) -> AnomalyReading:
        """The latest verdict."""
        return self._reading

    def update(self, now: float, value: float) -> AnomalyReading:
        """Judge `value` observed at `now` (seconds), then learn from it."""
        if not math.isfinite(value):
            return self._reading
        config = self.config
        if self._first_t is None:
            self._first_t = now
        elapsed = max(0.0, now - self._last_t) if self._count else 0.0
        self._last_t = now
        smoothed = self._smooth(now, value)

        seasonal = self._profile.expected(now)
        warming = now - self._first_t < config.warmup_s
        mode: Mode
        if seasonal is not None:
            (shape, spread), mode = seasonal, "seasonal"
            baseline = shape + self._offset
        else:
            baseline, spread = self._level, _MEAN_ABS_TO_SIGMA * self._deviation
            mode = "ewma"
        if self._count == 0:
            baseline = smoothed
        spread = max(spread, config.min_spread_abs, config.min_spread_rel * abs(baseline),
                     _TINY_SPREAD)

        self._learn(now, smoothed, baseline, spread, elapsed, clip=not warming,
                    seasonal=seasonal is not None)
        if warming:
            self._reading = AnomalyReading(0.0, False, baseline, spread, smoothed, "warmup")
            return self._reading
        score = min(SCORE_CAP, self._directional((smoothed - baseline) / spread))
        self._reading = AnomalyReading(score, self._hysteresis(now, score), baseline, spread,
                                       smoothed, mode)
        return self._reading

    def _smooth(self, now: float, value: float) -> float:
        """Median of the values of the last `smoothing_window_s`, `value` included."""
        self._recent.append((now, value))
        bisect.insort(self._recent_sorted, value)
        horizon = now - self.config.smoothing_window_s
        while self._recent[0][0] <= horizon:
            _, old = self._recent.popleft()
            del self._recent_sorted[bisect.bisect_left(self._recent_sorted, old)]
        ordered = self._recent_sorted
        middle = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[middle]
        return (ordered[middle - 1] + ordered[middle]) / 2

    def _directional(self, z: float) -> float:
        direction = self.config.direction
        if direction is Direction.UP:
            return max(z, 0.0)
        if direction is Direction.DOWN:
            return max(-z, 0.0)
        return abs(z)

    def _learn(self, now: float, smoothed: float, baseline: float, spread: float,
               elapsed: float, *, clip: bool, seasonal: bool) -> None:
        """Teach the profile, the offset and the fallback EWMA, clipped to what was expected."""
        config = self.config
        if clip:
            bound = config.learn_clip * spread
            learned = min(max(smoothed, baseline - bound), baseline + bound)
        else:
            learned = smoothed
        self._profile.add(now, learned - self._offset)
        if seasonal:
            self._offset += _ewma_weight(elapsed, config.offset_halflife_s) * (
                learned - baseline)
        self._count += 1
        if self._count == 1:
            self._level = learned
            return
        # Early on the weight is 1/n: a plain running mean until the half-life takes over.
        weight = max(_ewma_weight(elapsed, config.fallback_halflife_s), 1.0 / self._count)
        residual = learned - self._level
        self._level += weight * residual
        self._deviation += weight * (abs(residual) - self._deviation)

    def _hysteresis(self, now: float, score: float) -> bool:
        config = self.config
        if not self._active:
            if score >= config.on_score:
                self._active = True
                self._below_since = None
            return self._active
        if score >= config.off_score:
            self._below_since = None
        elif self._below_since is None:
            self._below_since = now
        if self._below_since is not None and now - self._below_since >= config.off_after_s:
            self._active = False
            self._below_since = None
        return self._active


def _ewma_weight(elapsed_s: float, halflife_s: float) -> float:
    """Weight of a new value after `elapsed_s`, for an EWMA with the given half-life."""
    return 1.0 - math.exp(-math.log(2.0) * elapsed_s / halflife_s)
