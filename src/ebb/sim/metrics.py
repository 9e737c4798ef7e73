"""From a run's per-request latencies and scale events to the numbers a user compares.

SLO attainment counts every arrival: refused and never-answered requests are misses, so a
policy cannot look good by dropping load. Percentiles are over answered requests (refusals are
reported beside them).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ebb.sim.records import Run, ScaleEvent

FloatArray = NDArray[np.float64]

RECOVERY_RUN = 5
"""Consecutive good windows that count as recovered."""


@dataclass(frozen=True, slots=True)
class Summary:
    """One policy's result on one trace."""

    policy: str
    pipeline: str
    requests: int
    answered: int
    rejected: int
    unanswered: int
    """Admitted but still waiting or in flight when the run stopped."""
    slo_attainment: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    worker_seconds: float
    mean_workers: float
    scale_events: int
    flips: int
    """Scale events whose direction reverses the previous one's: flapping."""
    recovery_s: float | None
    """Time from the largest step up in the arrival rate until p99 holds the SLO again;
    None when it never does (or the trace has no step)."""
    pod_seconds: float | None = None
    """The kubernetes world's cost in pods (worker-seconds over workers per pod)."""

    def as_json(self) -> dict[str, float | int | str | None]:
        doc: dict[str, float | int | str | None] = {
            "slo_attainment": round(self.slo_attainment, 6),
            "worker_seconds": round(self.worker_seconds, 3),
            "p50_ms": _rounded(self.p50_ms),
            "p95_ms": _rounded(self.p95_ms),
            "p99_ms": _rounded(self.p99_ms),
            "rejected": self.rejected,
            "unanswered": self.unanswered,
            "scale_events": self.scale_events,
            "flips": self.flips,
            "recovery_s": None if self.recovery_s is None else round(self.recovery_s, 3),
            "mean_workers": round(self.mean_workers, 3),
            "pipeline": self.pipeline,
        }
        if self.pod_seconds is not None:
            doc["pod_seconds"] = round(self.pod_seconds, 3)
        return doc


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def met(run: Run, slo_s: float) -> NDArray[np.bool_]:
    """Per arrival: answered within the SLO."""
    return np.nan_to_num(run.latency_s, nan=np.inf) <= slo_s


def summarise(run: Run, slo_s: float, arrivals: FloatArray, *, start_s: float = 0.0
              ) -> Summary:
    """The numbers of one run; `arrivals` are the trace's arrival times (for the step).

    With `start_s`, only what happens from then on counts: the requests arriving from then,
    the worker-seconds and scale events from then (a held-out slice scored after the policy
    ran through the training part, so it starts warm).
    """
    first = int(np.searchsorted(arrivals, start_s, side="left"))
    arrivals = arrivals[first:] - start_s
    latency = run.latency_s[first:]
    answered = ~np.isnan(latency)
    n = len(latency)
    rejected = int(np.count_nonzero(run.rejected[first:]))
    done = latency[answered]
    p50, p95, p99 = (np.percentile(done, [50, 95, 99]) * 1000 if len(done)
                     else (math.nan, math.nan, math.nan))
    ok = np.nan_to_num(latency, nan=np.inf) <= slo_s
    events = tuple(e for e in run.scale_events if e.at >= start_s)
    span = run.duration_s - start_s
    cost = run.worker_seconds_between(start_s, run.duration_s)
    return Summary(
        policy=run.policy,
        pipeline=run.pipeline,
        requests=n,
        answered=int(np.count_nonzero(answered)),
        rejected=rejected,
        unanswered=n - rejected - int(np.count_nonzero(answered)),
        slo_attainment=float(np.count_nonzero(ok)) / n if n else 1.0,
        p50_ms=float(p50), p95_ms=float(p95), p99_ms=float(p99),
        worker_seconds=cost,
        mean_workers=cost / span if span > 0 else 0.0,
        scale_events=len(events),
        flips=flips(events),
        recovery_s=recovery_time(arrivals, latency, slo_s, span),
        pod_seconds=run.pod_seconds_between(start_s, run.duration_s),
    )


def flips(events: tuple[ScaleEvent, ...]) -> int:
    """Direction reversals between consecutive scale events."""
    directions = [1 if e.after > e.before else -1 for e in events]
    return sum(1 for a, b in itertools.pairwise(directions) if a != b)


def largest_step(arrivals: FloatArray, duration_s: float) -> float | None:
    """Start of the window whose arrival rate rose most over the window before it.

    Windows are a 60th of the trace (at least 1 s): wide enough that Poisson noise does not
    pass for a step, narrow enough to place it. None when the rate never rises.
    """
    width = max(1.0, duration_s / 60)
    bins = math.ceil(duration_s / width)
    if bins < 2:
        return None
    counts, _ = np.histogram(arrivals, bins=bins, range=(0.0, bins * width))
    rise = np.diff(counts)
    k = int(np.argmax(rise))
    if rise[k] <= 0:
        return None
    return (k + 1) * width


def windowed_p99(arrivals: FloatArray, latency: FloatArray, width: float, bins: int
                 ) -> FloatArray:
    """p99 latency of the requests arriving in each window (refused or unanswered: infinite;
    empty windows: NaN)."""
    index = np.minimum((arrivals / width).astype(np.int64), bins - 1)
    values = np.nan_to_num(latency, nan=np.inf)
    order = np.lexsort((values, index))
    sorted_index = index[order]
    sorted_values = values[order]
    starts = np.searchsorted(sorted_index, np.arange(bins), side="left")
    ends = np.searchsorted(sorted_index, np.arange(bins), side="right")
    counts = ends - starts
    result = np.full(bins, np.nan)
    has = counts > 0
    # the nearest-rank 99th percentile: the ceil(0.99 n)-th smallest value
    rank = np.ceil(0.99 * counts[has]).astype(np.int64) - 1
    result[has] = sorted_values[starts[has] + rank]
    return result


def recovery_time(arrivals: FloatArray, latency: FloatArray, slo_s: float,
                  duration_s: float) -> float | None:
    """Seconds from the largest step until the first of `RECOVERY_RUN` consecutive windows
    (a 200th of the trace, at least 1 s) whose p99 is within the SLO; 0 if it never broke."""
    step_at = largest_step(arrivals, duration_s)
    if step_at is None:
        return None
    width = max(1.0, duration_s / 200)
    bins = math.ceil(duration_s / width)
    p99 = windowed_p99(arrivals, latency, width, bins)
    good = ~(p99 > slo_s)  # NaN (no requests) counts as good
    first = int(step_at // width)
    for k in range(first, bins):
        run = good[k:k + RECOVERY_RUN]
        if bool(np.all(run)) and len(run) == min(RECOVERY_RUN, bins - k):
            return max(0.0, k * width - step_at)
    return None
