"""Pure statistics over a run's arrays: the summary and the per-second timeline.

Nothing here reads a clock or does I/O; tests call these with hand-made arrays::

    percentiles(np.array([0.01, 0.02, 0.03]), (50, 99))   # -> (0.02, 0.0298)

Conventions: a percentile of no values is NaN; SLO attainment is the share of *offered* requests
(every scheduled arrival, rejected, failed and dropped ones included) answered within the SLO,
so shedding load never improves it. In the timeline, offered and dropped requests are counted in
the second they were scheduled, everything else (outcomes and latency) in the second it ended.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ebb.loadgen.client import Outcome


def percentiles(values: np.ndarray, qs: Sequence[float]) -> tuple[float, ...]:
    """Linear-interpolated percentiles (0-100) of ``values``; NaN for each when empty."""
    if len(values) == 0:
        return tuple(math.nan for _ in qs)
    return tuple(float(value) for value in np.percentile(values, list(qs)))


def slo_attainment(latencies: np.ndarray, offered: int, slo_s: float) -> float:
    """Share of ``offered`` requests whose answer came within ``slo_s`` (NaN with none offered).

    ``latencies`` holds the answered requests only: the others count as misses.
    """
    if offered == 0:
        return math.nan
    return float(np.count_nonzero(latencies <= slo_s)) / offered


class LatencyHistogram:
    """Running percentiles in constant time per answer, within 1 % (buckets 2 % wide).

    The live progress line uses it, so a long run's p99 costs the event loop microseconds, not
    a sort of every latency so far; the final summary uses exact percentiles.
    """

    _LOW_S = 1e-5
    _RATIO = 1.02
    _BUCKETS = math.ceil(math.log(3600 / _LOW_S) / math.log(_RATIO)) + 1

    def __init__(self) -> None:
        self._counts = [0] * self._BUCKETS
        self.total = 0

    def add(self, seconds: float) -> None:
        index = 0
        if seconds > self._LOW_S:
            index = min(self._BUCKETS - 1,
                        int(math.log(seconds / self._LOW_S) / math.log(self._RATIO)) + 1)
        self._counts[index] += 1
        self.total += 1

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0-100) as its bucket's geometric middle; NaN when empty."""
        if self.total == 0:
            return math.nan
        rank = max(1, math.ceil(q / 100 * self.total))
        index = int(np.searchsorted(np.cumsum(self._counts), rank))
        if index == 0:
            return self._LOW_S
        return float(self._LOW_S * self._RATIO ** (index - 0.5))


@dataclass(frozen=True)
class Summary:
    offered: int
    """Arrivals in the schedule: sent plus client-dropped."""
    sent: int
    answered: int
    rejected: int
    timeouts: int
    errors: int
    dropped: int
    """Never sent because the cap on outstanding requests was reached."""
    p50_s: float
    p95_s: float
    p99_s: float
    max_s: float
    mean_s: float
    slo_s: float
    slo_attainment: float
    duration_s: float
    """The schedule's length; the offered rate is measured over it."""
    elapsed_s: float
    """From the origin to the last answer (at least ``duration_s``)."""
    offered_rate: float
    achieved_rate: float
    """Answers per second over ``elapsed_s``."""
    lag_p99_s: float
    """How late the generator sent (99th percentile); large values mean it could not keep up."""
    top_errors: tuple[tuple[str, int], ...] = field(default=())


def summarize(scheduled: np.ndarray, sent_at: np.ndarray, done_at: np.ndarray,
              outcome: np.ndarray, duration_s: float, slo_s: float,
              details: Sequence[tuple[str, int]] = ()) -> Summary:
    counts = np.bincount(outcome.astype(np.int64), minlength=len(Outcome))
    answered = outcome == Outcome.ANSWERED
    latencies = done_at[answered] - scheduled[answered]
    p50, p95, p99, top = percentiles(latencies, (50, 95, 99, 100))
    sent_mask = ~np.isnan(sent_at)
    (lag_p99,) = percentiles(sent_at[sent_mask] - scheduled[sent_mask], (99,))
    finished = done_at[~np.isnan(done_at)]
    elapsed = max(duration_s, float(finished.max()) if len(finished) else 0.0)
    offered = len(scheduled)
    return Summary(
        offered=offered, sent=int(np.count_nonzero(sent_mask)),
        answered=int(counts[Outcome.ANSWERED]), rejected=int(counts[Outcome.REJECTED]),
        timeouts=int(counts[Outcome.TIMEOUT]), errors=int(counts[Outcome.ERROR]),
        dropped=int(counts[Outcome.DROPPED]),
        p50_s=p50, p95_s=p95, p99_s=p99, max_s=top,
        mean_s=float(latencies.mean()) if len(latencies) else math.nan,
        slo_s=slo_s, slo_attainment=slo_attainment(latencies, offered, slo_s),
        duration_s=duration_s, elapsed_s=elapsed,
        offered_rate=offered / duration_s if duration_s > 0 else math.nan,
        achieved_rate=int(counts[Outcome.ANSWERED]) / elapsed if elapsed > 0 else math.nan,
        lag_p99_s=lag_p99, top_errors=tuple(details),
    )


@dataclass(frozen=True)
class GaugeSamples:
    """The server's gauges as polled: one entry per successful scrape (NaN where absent)."""

    t: np.ndarray
    queue_depth: np.ndarray
    ready: np.ndarray
    starting: np.ndarray

    @classmethod
    def empty(cls) -> GaugeSamples:
        none = np.zeros(0)
        return cls(none, none, none, none)


@dataclass(frozen=True)
class Timeline:
    """One row per second of the run; the CSV and the plot are drawn from it."""

    second: np.ndarray
    offered: np.ndarray
    sent: np.ndarray
    answered: np.ndarray
    rejected: np.ndarray
    timeouts: np.ndarray
    errors: np.ndarray
    dropped: np.ndarray
    p50_s: np.ndarray
    p99_s: np.ndarray
    queue_depth: np.ndarray
    """Largest depth polled in the second (NaN when not polled)."""
    workers_ready: np.ndarray
    """Last value polled in the second (NaN when not polled)."""
    workers_starting: np.ndarray


def timeline(scheduled: np.ndarray, sent_at: np.ndarray, done_at: np.ndarray,
             outcome: np.ndarray, gauges: GaugeSamples, duration_s: float) -> Timeline:
    finished = done_at[~np.isnan(done_at)]
    end = max(duration_s, float(finished.max()) if len(finished) else 0.0,
              float(gauges.t.max()) if len(gauges.t) else 0.0)
    seconds = max(1, math.ceil(end))

    def per_second(times: np.ndarray) -> np.ndarray:
        times = times[~np.isnan(times)]
        slots = np.clip(np.floor(times).astype(np.int64), 0, seconds - 1)
        counts: np.ndarray = np.bincount(slots, minlength=seconds)
        return counts

    def ended(kind: Outcome) -> np.ndarray:
        return per_second(done_at[outcome == kind])

    answered = outcome == Outcome.ANSWERED
    latency = done_at[answered] - scheduled[answered]
    answer_second = np.clip(np.floor(done_at[answered]).astype(np.int64), 0, seconds - 1)
    p50 = np.full(seconds, np.nan)
    p99 = np.full(seconds, np.nan)
    for second in np.unique(answer_second):
        p50[second], p99[second] = percentiles(latency[answer_second == second], (50, 99))

    depth = np.full(seconds, np.nan)
    ready = np.full(seconds, np.nan)
    starting = np.full(seconds, np.nan)
    gauge_second = np.clip(np.floor(gauges.t).astype(np.int64), 0, seconds - 1)
    for index, second in enumerate(gauge_second):
        if not math.isnan(gauges.queue_depth[index]):
            depth[second] = np.fmax(depth[second], gauges.queue_depth[index])
        ready[second] = gauges.ready[index]
        starting[second] = gauges.starting[index]

    return Timeline(
        second=np.arange(seconds), offered=per_second(scheduled), sent=per_second(sent_at),
        answered=ended(Outcome.ANSWERED), rejected=ended(Outcome.REJECTED),
        timeouts=ended(Outcome.TIMEOUT), errors=ended(Outcome.ERROR),
        dropped=ended(Outcome.DROPPED), p50_s=p50, p99_s=p99,
        queue_depth=depth, workers_ready=ready, workers_starting=starting,
    )
