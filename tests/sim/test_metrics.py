"""The numbers in the table: attainment counts refusals as misses, flips, the step, recovery."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ebb.sim.engine import ScaleEvent, simulate_fixed
from ebb.sim.metrics import flips, largest_step, recovery_time, summarise, windowed_p99
from ebb.sim.tune import choose
from ebb.sim.world import ColdStart, PolicySpec, ServiceModel, World, fit_service
from ebb.traces import Trace


def test_refused_requests_count_as_misses() -> None:
    trace = Trace(np.array([0.0, 0.01, 0.02, 0.03]), None, "t", None, 1.0)
    world = World(ServiceModel(0.1, 0.0), ColdStart(0.0), slo_s=0.2, max_batch_size=1,
                  max_delay_s=0.0, queue_bound=1)
    summary = summarise(simulate_fixed(trace, world, 1, seed=0), 0.2, trace.arrivals)
    assert summary.rejected == 2
    assert summary.answered == 2
    assert summary.unanswered == 0
    assert summary.slo_attainment == 0.5
    assert summary.p50_ms == pytest.approx(145.0)


def test_flips_count_direction_reversals() -> None:
    events = tuple(ScaleEvent(float(i), a, b, "") for i, (a, b) in
                   enumerate([(1, 2), (2, 4), (4, 3), (3, 5), (5, 4)]))
    assert flips(events) == 3
    assert flips(()) == 0


def test_largest_step_finds_the_step() -> None:
    arrivals = np.concatenate([np.linspace(0, 60, 600, endpoint=False),
                               np.linspace(60, 120, 6000, endpoint=False)])
    assert largest_step(arrivals, 120.0) == pytest.approx(60.0)
    assert largest_step(np.linspace(0, 120, 1200, endpoint=False), 120.0) is None


def test_recovery_is_the_time_until_p99_holds_again() -> None:
    arrivals = np.concatenate([np.linspace(0, 100, 1000, endpoint=False),
                               np.linspace(100, 200, 5000, endpoint=False)])
    latency = np.full(len(arrivals), 0.05)
    late = (arrivals >= 100) & (arrivals < 112)
    latency[late] = 1.0
    assert recovery_time(arrivals, latency, 0.2, 200.0) == pytest.approx(12.0)
    assert recovery_time(arrivals, np.full(len(arrivals), 0.05), 0.2, 200.0) == 0.0
    never = latency.copy()
    never[arrivals >= 100] = np.nan
    assert recovery_time(arrivals, never, 0.2, 200.0) is None


def test_windowed_p99_is_the_nearest_rank() -> None:
    arrivals = np.array([0.1, 0.2, 0.3, 1.5])
    latency = np.array([0.01, 0.03, np.nan, 0.02])
    p99 = windowed_p99(arrivals, latency, 1.0, 3)
    assert p99[0] == np.inf
    assert p99[1] == pytest.approx(0.02)
    assert np.isnan(p99[2])


def test_tuning_picks_the_cheapest_setting_meeting_the_target() -> None:
    trace = Trace(np.array([0.0]), None, "t", None, 1.0)
    world = World(ServiceModel(0.1, 0.0), ColdStart(0.0), slo_s=0.2)
    base = summarise(simulate_fixed(trace, world, 1, seed=0), 0.2, trace.arrivals)
    cheap_miss = replace(base, slo_attainment=0.95, worker_seconds=10.0)
    dear_hit = replace(base, slo_attainment=0.995, worker_seconds=30.0)
    cheap_hit = replace(base, slo_attainment=0.99, worker_seconds=20.0)
    a, b, c = PolicySpec("x", {}, "a"), PolicySpec("x", {}, "b"), PolicySpec("x", {}, "c")
    assert choose([(a, cheap_miss), (b, dear_hit), (c, cheap_hit)], 0.99) is c
    assert choose([(a, cheap_miss), (b, replace(dear_hit, slo_attainment=0.97))], 0.99) is b


def test_fitted_service_model_recovers_a_and_b() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 17, 2000).astype(float)
    times = (0.02 + 0.003 * sizes) * rng.lognormal(-0.02, 0.2, 2000)
    model = fit_service(sizes.tolist(), times.tolist())
    assert model.fixed_s == pytest.approx(0.02, rel=0.1)
    assert model.per_item_s == pytest.approx(0.003, rel=0.1)
    assert model.cv == pytest.approx(0.2, abs=0.03)
