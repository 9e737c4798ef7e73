"""Transformations of a trace: faster, denser or sparser, or a slice of it."""

from __future__ import annotations

import math

import numpy as np

from ebb.traces._model import Trace, TraceError


def scaled(trace: Trace, *, speedup: float = 1.0, rate_scale: float = 1.0,
           seed: int = 0) -> Trace:
    """The trace compressed in time by `speedup` and with `rate_scale` times the requests.

    Use `speedup` to replay an hour in six minutes (the rate and its burstiness grow together);
    use `rate_scale` to keep the timing and change the volume. A `rate_scale` below 1 keeps each
    request with that probability; above 1 each request gets ``floor(scale)`` copies plus one
    more with the fractional probability, the copies spread uniformly over the gap to the next
    arrival so the rate's shape survives.
    """
    if speedup <= 0 or not math.isfinite(speedup):
        raise TraceError(f"speedup must be a positive number, got {speedup}")
    if rate_scale <= 0 or not math.isfinite(rate_scale):
        raise TraceError(f"rate scale must be a positive number, got {rate_scale}")
    arrivals = trace.arrivals / speedup
    duration = trace.duration_s / speedup
    sizes = trace.sizes
    if rate_scale != 1.0 and len(arrivals):
        rng = np.random.default_rng(seed)
        whole = math.floor(rate_scale)
        copies = np.full(len(arrivals), whole, dtype=np.int64)
        copies += rng.random(len(arrivals)) < (rate_scale - whole)
        gaps = np.diff(arrivals, append=duration)
        index = np.repeat(np.arange(len(arrivals)), copies)
        first = np.ones(len(index), dtype=bool)
        first[1:] = index[1:] != index[:-1]
        jitter = np.where(first, 0.0, rng.random(len(index)) * gaps[index])
        arrivals = arrivals[index] + jitter
        order = np.argsort(arrivals, kind="stable")
        arrivals = arrivals[order]
        sizes = None if sizes is None else sizes[index][order]
    name = trace.name
    if speedup != 1.0:
        name += f" x{speedup:g} speed"
    if rate_scale != 1.0:
        name += f" x{rate_scale:g} rate"
    return Trace(np.ascontiguousarray(arrivals, dtype=np.float64), sizes, name, trace.credit,
                 float(duration))


def window(trace: Trace, start_s: float, end_s: float) -> Trace:
    """The arrivals in ``[start_s, end_s)``, shifted to start at 0 (a training or test slice)."""
    if not 0 <= start_s < end_s:
        raise TraceError(f"window [{start_s}, {end_s}) is empty or negative")
    lo, hi = np.searchsorted(trace.arrivals, [start_s, end_s], side="left")
    sizes = None if trace.sizes is None else trace.sizes[lo:hi].copy()
    end = min(end_s, trace.duration_s)
    return Trace(trace.arrivals[lo:hi] - start_s, sizes,
                 f"{trace.name} [{start_s:g}s, {end:g}s)", trace.credit,
                 max(0.0, float(end - start_s)))
