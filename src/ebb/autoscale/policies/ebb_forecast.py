"""A short-horizon forecast of the arrival rate for Ebb's policy (knob ``forecast``, off by
default): Holt's linear trend over the ticks' arrival rates.

    level_t = alpha x rate_t + (1 - alpha) x (level + trend x dt)
    trend_t = beta x (level_t - level) / dt + (1 - beta) x trend
    forecast(h) = level_t + trend_t x h          (used only when it is a rise of at least
                                                  MIN_RISE of the level: noise is not a trend)

The policy asks for the rate one cold start ahead, so that workers ordered now are ready when
the rise arrives. The forecast only ever orders workers: it is not part of the count a
scale-in keeps, so it cannot hold capacity that current demand does not justify beyond the
keep-alive.
"""

from __future__ import annotations

from dataclasses import dataclass

ALPHA = 0.3
BETA = 0.1
MIN_RISE = 0.1
MIN_HISTORY_S = 10.0
"""Seconds of ticks before the trend is trusted: the rate window must fill first (twice)."""
MAX_GAP_S = 5.0
"""A tick further apart than this from the last one restarts the forecast."""


@dataclass(frozen=True, slots=True)
class Trend:
    at: float
    level: float
    trend: float = 0.0
    since: float = 0.0
    """When this run of ticks began."""


def update(previous: Trend | None, now: float, rate: float) -> Trend:
    """The forecast state after seeing `rate` at `now`."""
    if previous is None or not 0 < now - previous.at <= MAX_GAP_S:
        return Trend(now, rate, 0.0, now)
    dt = now - previous.at
    level = ALPHA * rate + (1 - ALPHA) * (previous.level + previous.trend * dt)
    trend = BETA * (level - previous.level) / dt + (1 - BETA) * previous.trend
    return Trend(now, level, trend, previous.since)


def forecast(state: Trend | None, horizon_s: float) -> float | None:
    """The rate expected `horizon_s` ahead, None unless it rises by `MIN_RISE` or more."""
    if state is None or state.at - state.since < MIN_HISTORY_S:
        return None
    if state.trend * horizon_s < MIN_RISE * state.level:
        return None
    return state.level + state.trend * horizon_s
