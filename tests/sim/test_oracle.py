"""The oracle: exact on a case worked out by hand, and never dearer than a policy at the
attainment that policy reached."""

from __future__ import annotations

import numpy as np
import pytest

from ebb.sim.compare import compare
from ebb.sim.oracle import compute_oracle
from ebb.sim.world import PIPELINES, ColdStart, PolicySpec, ServiceModel, World
from ebb.traces import Trace, constant, synthetic


def test_one_worker_suffices_for_evenly_spaced_load() -> None:
    trace = constant(10, 20, seed=0, spacing="uniform")  # one every 100 ms
    world = World(ServiceModel(0.1, 0.0), ColdStart(0.0), slo_s=0.2, min_workers=0,
                  max_workers=4, max_batch_size=1, max_delay_s=0.0)
    oracle = compute_oracle(trace, world, seed=0, window_s=1.0)
    assert oracle.full_workers.tolist() == [1] * 20
    assert oracle.worker_seconds_at(1.0) == pytest.approx(20.0)
    assert oracle.best_attainment == 1.0


def test_busier_windows_need_more_workers_and_empty_ones_none() -> None:
    fast = np.arange(0, 1, 0.025)   # 40/s: four 100 ms services in parallel
    slow = 2 + np.arange(0, 1, 0.1)  # 10/s
    trace = Trace(np.concatenate([fast, slow]), None, "two", None, 3.0)
    world = World(ServiceModel(0.1, 0.0), ColdStart(0.0), slo_s=0.15, min_workers=0,
                  max_workers=8, max_batch_size=1, max_delay_s=0.0)
    oracle = compute_oracle(trace, world, seed=0, window_s=1.0)
    assert oracle.full_workers.tolist() == [4, 0, 1]
    assert oracle.worker_seconds_at(1.0) == pytest.approx(5.0)
    # the curve rises with cost and starts from nothing met
    assert np.all(np.diff(oracle.attainment) >= 0)
    assert np.all(np.diff(oracle.worker_seconds) >= 0)
    assert oracle.worker_seconds_at(0.0) == 0.0


def test_min_workers_is_a_floor_for_the_oracle_too() -> None:
    trace = constant(1, 10, seed=0, spacing="uniform")
    world = World(ServiceModel(0.01, 0.0), ColdStart(0.0), slo_s=0.2, min_workers=2,
                  max_workers=4)
    oracle = compute_oracle(trace, world, seed=0, window_s=2.0)
    assert oracle.worker_seconds_at(1.0) == pytest.approx(20.0)


def test_unreachable_attainment_costs_infinity() -> None:
    trace = constant(1000, 5, seed=0)
    world = World(ServiceModel(0.1, 0.0), ColdStart(0.0), slo_s=0.2, max_workers=2,
                  max_batch_size=1)
    oracle = compute_oracle(trace, world, seed=0, window_s=2.0)
    assert oracle.best_attainment < 0.5
    assert oracle.worker_seconds_at(0.99) == float("inf")


@pytest.mark.parametrize("profile", ["step", "spike", "bursty", "sine"])
def test_oracle_is_never_dearer_than_a_policy_at_its_attainment(profile: str) -> None:
    trace = synthetic(profile, 60, 60, seed=4)
    world = World(ServiceModel(0.02, 0.003, cv=0.2), ColdStart(2.0), slo_s=0.2,
                  max_workers=16, max_batch_size=8)
    result = compare(trace, world, [PolicySpec(name) for name in PIPELINES], seed=1)
    for summary in result.summaries:
        bound = result.oracle.worker_seconds_at(summary.slo_attainment)
        assert bound <= summary.worker_seconds, summary.policy
    ideal = compare(trace, world, [PolicySpec(name) for name in PIPELINES], seed=1,
                    ideal_signals=True)
    for summary in ideal.summaries:
        assert ideal.oracle.worker_seconds_at(summary.slo_attainment) <= summary.worker_seconds
