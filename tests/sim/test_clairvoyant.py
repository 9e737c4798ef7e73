"""The clairvoyant bound: exact on cases worked out by hand, never below the ideal oracle."""

from __future__ import annotations

import numpy as np
import pytest

from ebb.sim.clairvoyant import clairvoyant_worker_seconds, cover_cost
from ebb.sim.compare import compare
from ebb.sim.oracle import compute_oracle
from ebb.sim.world import ColdStart, PolicySpec, ServiceModel, World
from ebb.traces import synthetic


def _cost(counts: list[int], cold: float, life: float, initial: int = 0) -> float:
    return cover_cost(np.asarray(counts, dtype=np.int64), np.ones(len(counts)), cold, life,
                      initial)


def test_a_short_gap_is_bridged_and_a_long_one_restarts() -> None:
    assert _cost([1, 0, 0, 1], cold=5.0, life=0.0) == pytest.approx(5 + 4)   # keep 2 s idle
    assert _cost([1] + [0] * 7 + [1], cold=2.0, life=0.0) == pytest.approx(2 * (2 + 1))


def test_a_short_need_is_held_for_the_minimum_life() -> None:
    assert _cost([1] + [0] * 9, cold=2.0, life=3.0) == pytest.approx(2 + 3)
    assert _cost([1] + [0] * 9, cold=2.0, life=0.0) == pytest.approx(2 + 1)


def test_the_warm_start_is_free_and_levels_add_up() -> None:
    assert _cost([1, 1], cold=5.0, life=5.0, initial=1) == pytest.approx(2)
    # level 1 all along (warm), level 2 one window: 1 x 4 + (5 + 1)
    assert _cost([1, 2, 1, 1], cold=5.0, life=0.0, initial=1) == pytest.approx(4 + 6)
    assert _cost([0, 0], cold=5.0, life=5.0) == 0.0


def test_without_cold_start_it_is_the_oracles_whole_counts() -> None:
    trace = synthetic("step", 60, 30, seed=1)
    world = World(ServiceModel(0.02, 0.0), ColdStart(0.0), slo_s=0.2, max_workers=8,
                  max_batch_size=1)
    oracle = compute_oracle(trace, world, seed=0, window_s=2.0)
    counts = oracle.counts_at(0.99)
    bound = clairvoyant_worker_seconds(oracle, world, 0.99, duration_s=trace.duration_s,
                                       min_life_s=0.0, initial_workers=0)
    assert bound == pytest.approx(float(np.sum(counts)) * 2.0, rel=1e-9)
    assert bound >= oracle.worker_seconds_at(0.99) - 1e-9


def test_it_is_never_below_the_ideal_oracle_and_is_reported() -> None:
    trace = synthetic("spike", 60, 60, seed=4)
    world = World(ServiceModel(0.02, 0.0), ColdStart(3.0), slo_s=0.2, max_workers=16,
                  max_batch_size=1)
    result = compare(trace, world, [PolicySpec("ebb")], seed=0)
    assert result.clairvoyant_worker_seconds > result.oracle_worker_seconds
    assert result.ratio_to_clairvoyant(result.summaries[0]) < result.ratio_to_oracle(
        result.summaries[0])
