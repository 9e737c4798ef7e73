"""The pure statistics: percentiles, SLO attainment, the summary and the per-second timeline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ebb.loadgen.client import Outcome
from ebb.loadgen.stats import (
    GaugeSamples,
    LatencyHistogram,
    percentiles,
    slo_attainment,
    summarize,
    timeline,
)

A, R, T, E, D = (Outcome.ANSWERED, Outcome.REJECTED, Outcome.TIMEOUT, Outcome.ERROR,
                 Outcome.DROPPED)


def test_percentiles_interpolate_and_are_nan_when_empty() -> None:
    assert percentiles(np.array([1.0, 2.0, 3.0, 4.0]), (50, 100)) == (2.5, 4.0)
    assert all(math.isnan(value) for value in percentiles(np.array([]), (50, 99)))


def test_slo_attainment_counts_unanswered_requests_as_misses() -> None:
    answered = np.array([0.01, 0.05, 0.2])
    assert slo_attainment(answered, offered=3, slo_s=0.1) == pytest.approx(2 / 3)
    assert slo_attainment(answered, offered=4, slo_s=0.1) == pytest.approx(0.5)
    assert math.isnan(slo_attainment(np.array([]), offered=0, slo_s=0.1))


def _run() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    scheduled = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    sent_at = np.array([0.0, 0.5, 1.0, 1.5, 2.0, np.nan])
    done_at = np.array([0.01, 0.53, 1.02, 1.6, 3.2, 2.5])
    outcome = np.array([A, A, R, A, T, D], dtype=np.int8)
    return scheduled, sent_at, done_at, outcome


def test_summary_counts_each_outcome_and_measures_latency_from_the_schedule() -> None:
    summary = summarize(*_run(), duration_s=3.0, slo_s=0.05, details=[("HTTP 503", 1)])
    assert (summary.offered, summary.sent, summary.answered, summary.rejected,
            summary.timeouts, summary.errors, summary.dropped) == (6, 5, 3, 1, 1, 0, 1)
    assert summary.p50_s == pytest.approx(0.03)
    assert summary.max_s == pytest.approx(0.1)
    assert summary.slo_attainment == pytest.approx(2 / 6)
    assert summary.offered_rate == pytest.approx(2.0)
    assert summary.elapsed_s == pytest.approx(3.2)
    assert summary.achieved_rate == pytest.approx(3 / 3.2)
    assert summary.lag_p99_s == 0.0
    assert summary.top_errors == (("HTTP 503", 1),)


def test_timeline_counts_offers_when_scheduled_and_outcomes_when_they_ended() -> None:
    gauges = GaugeSamples(t=np.array([0.2, 0.7, 1.2, 3.1]),
                          queue_depth=np.array([1.0, 4.0, 2.0, np.nan]),
                          ready=np.array([1.0, 1.0, 2.0, 2.0]),
                          starting=np.array([1.0, 1.0, 0.0, 0.0]))
    line = timeline(*_run(), gauges=gauges, duration_s=3.0)
    assert list(line.second) == [0, 1, 2, 3]
    assert list(line.offered) == [2, 2, 2, 0]
    assert list(line.sent) == [2, 2, 1, 0]
    assert list(line.answered) == [2, 1, 0, 0]
    assert list(line.rejected) == [0, 1, 0, 0]
    assert list(line.timeouts) == [0, 0, 0, 1]
    assert list(line.dropped) == [0, 0, 1, 0]
    assert line.p99_s[0] == pytest.approx(0.0298)
    assert line.p50_s[1] == pytest.approx(0.1)
    assert math.isnan(line.p50_s[2])
    assert line.queue_depth[0] == 4.0  # the largest depth polled in the second
    assert math.isnan(line.queue_depth[2]) and math.isnan(line.queue_depth[3])
    assert list(line.workers_ready[:2]) == [1.0, 2.0]
    assert line.workers_starting[1] == 0.0


def test_timeline_of_an_empty_run_has_one_quiet_second() -> None:
    empty = np.array([])
    line = timeline(empty, empty, empty, np.array([], dtype=np.int8),
                    gauges=GaugeSamples.empty(), duration_s=0.5)
    assert list(line.offered) == [0]
    assert math.isnan(line.queue_depth[0])


def test_running_histogram_percentiles_are_within_two_percent() -> None:
    rng = np.random.default_rng(0)
    latencies = rng.lognormal(mean=-4, sigma=1, size=20_000)
    histogram = LatencyHistogram()
    for value in latencies:
        histogram.add(float(value))
    for q in (50, 95, 99, 100):
        exact = float(np.percentile(latencies, q, method="higher"))
        assert histogram.percentile(q) == pytest.approx(exact, rel=0.02)
    assert histogram.total == 20_000
    assert math.isnan(LatencyHistogram().percentile(99))
    tiny = LatencyHistogram()
    tiny.add(0.0)
    assert tiny.percentile(50) <= 1e-5
