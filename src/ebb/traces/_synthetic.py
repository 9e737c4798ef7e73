"""Synthetic arrival profiles with shapes that exercise autoscaling, from a seed alone."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

import numpy as np

from ebb.traces._model import FloatArray, Spacing, Trace, TraceError

SYNTHETIC: Final = ("constant", "step", "spike", "ramp", "sine", "bursty")
"""Names accepted by :func:`synthetic`."""

_RATE_GRID_STEPS: Final = 4096
"""Points per profile on which a varying rate is integrated and inverted (ramp, sine)."""


def constant(rate: float, duration_s: float, *, seed: int,
             spacing: Spacing = "poisson") -> Trace:
    """Poisson (or evenly spaced) arrivals at a fixed rate: the steady-state baseline."""
    return _piecewise([0.0, duration_s], [rate], seed, spacing, f"constant {rate:g}/s")


def step(rate: float, to_rate: float, at_s: float, duration_s: float, *, seed: int,
         spacing: Spacing = "poisson") -> Trace:
    """`rate` until `at_s`, then `to_rate` to the end: how fast does a policy catch up?"""
    _check_inside(at_s, duration_s, "step time")
    return _piecewise([0.0, at_s, duration_s], [rate, to_rate], seed, spacing,
                      f"step {rate:g}->{to_rate:g}/s at {at_s:g}s")


def spike(rate: float, spike_rate: float, at_s: float, spike_duration_s: float,
          duration_s: float, *, seed: int, spacing: Spacing = "poisson") -> Trace:
    """A short burst at `spike_rate` on a `rate` baseline: scale-up speed and scale-in calm."""
    _check_inside(at_s, duration_s, "spike start")
    end = min(at_s + spike_duration_s, duration_s)
    if spike_duration_s <= 0:
        raise TraceError(f"spike duration must be positive, got {spike_duration_s}")
    return _piecewise([0.0, at_s, end, duration_s], [rate, spike_rate, rate], seed, spacing,
                      f"spike {rate:g}->{spike_rate:g}/s for {spike_duration_s:g}s")


def ramp(rate: float, to_rate: float, duration_s: float, *, seed: int,
         spacing: Spacing = "poisson") -> Trace:
    """A rate rising (or falling) linearly from `rate` to `to_rate` over the whole duration."""
    def rate_at(t: FloatArray) -> FloatArray:
        return rate + (to_rate - rate) * t / duration_s
    return _varying(rate_at, max(rate, to_rate), duration_s, seed, spacing,
                    f"ramp {rate:g}->{to_rate:g}/s")


def sine(rate: float, amplitude: float, period_s: float, duration_s: float, *, seed: int,
         spacing: Spacing = "poisson") -> Trace:
    """A diurnal-style rate ``rate + amplitude * sin(2 pi t / period)`` (clipped at 0)."""
    if period_s <= 0:
        raise TraceError(f"sine period must be positive, got {period_s}")

    def rate_at(t: FloatArray) -> FloatArray:
        return np.maximum(0.0, rate + amplitude * np.sin(2.0 * np.pi * t / period_s))
    return _varying(rate_at, rate + abs(amplitude), duration_s, seed, spacing,
                    f"sine {rate:g}+-{amplitude:g}/s period {period_s:g}s")


def bursty(rate: float, burst_rate: float, mean_calm_s: float, mean_burst_s: float,
           duration_s: float, *, seed: int) -> Trace:
    """A two-state Markov-modulated Poisson process (MMPP): calm at `rate`, bursts at
    `burst_rate`, each state lasting an exponential time with the given mean.

    The traffic that defeats averaging windows: bursts come at random, not on a schedule.
    """
    if mean_calm_s <= 0 or mean_burst_s <= 0:
        raise TraceError("mean calm and burst durations must be positive")
    _check_rate(rate)
    _check_rate(burst_rate)
    _check_duration(duration_s)
    rng = np.random.default_rng(seed)
    edges = [0.0]
    rates: list[float] = []
    bursting = False
    while edges[-1] < duration_s:
        mean = mean_burst_s if bursting else mean_calm_s
        edges.append(min(duration_s, edges[-1] + float(rng.exponential(mean))))
        rates.append(burst_rate if bursting else rate)
        bursting = not bursting
    trace = _piecewise(edges, rates, int(rng.integers(2**63)), "poisson", "")
    return Trace(trace.arrivals, None, f"bursty {rate:g}/{burst_rate:g}/s", None, duration_s)


def synthetic(name: str, rate: float, duration_s: float, *, seed: int,
              spacing: Spacing = "poisson") -> Trace:
    """A named profile at base `rate` with shapes that exercise autoscaling, for quick runs
    (``ebb sim --synthetic step``); call the generators directly for other shapes.

    - constant: `rate` throughout.
    - step: `rate`, then 6x `rate` from a third of the way in.
    - spike: `rate`, with 10x `rate` for a twentieth of the duration from 40 %.
    - ramp: `rate` rising to 8x `rate`.
    - sine: `rate` +- 80 %, two periods.
    - bursty: MMPP, calm `rate` and 6x `rate` bursts, means of a tenth and a fortieth of the
      duration (Poisson spacing only).
    """
    if name == "constant":
        return constant(rate, duration_s, seed=seed, spacing=spacing)
    if name == "step":
        return step(rate, 6 * rate, duration_s / 3, duration_s, seed=seed, spacing=spacing)
    if name == "spike":
        return spike(rate, 10 * rate, 0.4 * duration_s, duration_s / 20, duration_s,
                     seed=seed, spacing=spacing)
    if name == "ramp":
        return ramp(rate, 8 * rate, duration_s, seed=seed, spacing=spacing)
    if name == "sine":
        return sine(rate, 0.8 * rate, duration_s / 2, duration_s, seed=seed, spacing=spacing)
    if name == "bursty":
        return bursty(rate, 6 * rate, duration_s / 10, duration_s / 40, duration_s, seed=seed)
    raise TraceError(f"unknown synthetic profile {name!r}; known: {', '.join(SYNTHETIC)}")


def _piecewise(edges: list[float], rates: list[float], seed: int, spacing: Spacing,
               name: str) -> Trace:
    """Arrivals at a rate constant on each segment ``[edges[i], edges[i+1])``."""
    _check_duration(edges[-1])
    for value in rates:
        _check_rate(value)
    edge_array = np.asarray(edges, dtype=np.float64)
    rate_array = np.asarray(rates, dtype=np.float64)
    if spacing == "uniform":
        cumulative = np.concatenate([[0.0], np.cumsum(rate_array * np.diff(edge_array))])
        return _invert(edge_array, cumulative, name)
    rng = np.random.default_rng(seed)
    counts = rng.poisson(rate_array * np.diff(edge_array))
    starts = np.repeat(edge_array[:-1], counts)
    widths = np.repeat(np.diff(edge_array), counts)
    arrivals = np.sort(starts + rng.random(len(starts)) * widths)
    return Trace(arrivals, None, name, None, float(edges[-1]))


def _varying(rate_at: Callable[[FloatArray], FloatArray], peak: float, duration_s: float,
             seed: int, spacing: Spacing, name: str) -> Trace:
    """Arrivals of a Poisson process whose rate varies smoothly, by time rescaling: a unit-rate
    process on the integrated rate, mapped back through its inverse (linear on a fine grid).
    """
    _check_duration(duration_s)
    _check_rate(peak)
    grid = np.linspace(0.0, duration_s, _RATE_GRID_STEPS + 1)
    rates = rate_at(grid)
    if bool(np.any(rates < 0)):
        raise TraceError(f"{name}: the rate goes negative")
    cumulative = np.concatenate([[0.0], np.cumsum((rates[1:] + rates[:-1]) / 2 * np.diff(grid))])
    if spacing == "uniform":
        return _invert(grid, cumulative, name)
    rng = np.random.default_rng(seed)
    total = float(cumulative[-1])
    count = int(rng.poisson(total))
    unit = np.sort(rng.random(count) * total)
    arrivals = np.interp(unit, cumulative, grid)
    return Trace(arrivals, None, name, None, duration_s)


def _invert(grid: FloatArray, cumulative: FloatArray, name: str) -> Trace:
    """Evenly spaced arrivals: the k-th request when the integrated rate reaches k + 1/2."""
    count = math.floor(float(cumulative[-1]) + 0.5)
    targets = np.arange(count, dtype=np.float64) + 0.5
    arrivals = np.interp(targets, cumulative, grid)
    return Trace(np.minimum(arrivals, grid[-1]), None, name, None, float(grid[-1]))


def _check_rate(rate: float) -> None:
    if rate < 0 or not math.isfinite(rate):
        raise TraceError(f"rate must be finite and not negative, got {rate}")


def _check_duration(duration_s: float) -> None:
    if duration_s <= 0 or not math.isfinite(duration_s):
        raise TraceError(f"duration must be a positive number of seconds, got {duration_s}")


def _check_inside(at_s: float, duration_s: float, what: str) -> None:
    _check_duration(duration_s)
    if not 0 <= at_s <= duration_s:
        raise TraceError(f"{what} {at_s} s must lie within the {duration_s} s duration")
