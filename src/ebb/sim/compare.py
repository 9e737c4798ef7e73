"""Run several policies on one trace in one world, beside the two bounds: the comparison a
report shows.

    result = compare(trace, world, [PolicySpec("ebb"), PolicySpec("hpa")], seed=0)
    result.summaries[0].slo_attainment, result.oracle.worker_seconds_at(0.99)
    result.ratio_to_oracle(s), result.ratio_to_clairvoyant(s)   # x ideal, x clairvoyant
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ebb.sim.clairvoyant import clairvoyant_worker_seconds
from ebb.sim.engine import Run, simulate
from ebb.sim.metrics import Summary, summarise
from ebb.sim.oracle import Oracle, compute_oracle, default_window
from ebb.sim.world import (
    PIPELINES,
    Cluster,
    Pipeline,
    PolicySpec,
    World,
    pin_size_unit,
    warm_start,
)
from ebb.traces import Trace, window

ProgressFactory = Callable[[str], Callable[[float], None] | None]
"""Given a label, a callback for the done fraction of that run (or None for silence)."""


@dataclass(frozen=True, slots=True)
class Spread:
    """Range over repetitions with different seeds (service and cold-start draws)."""

    repeats: int
    attainment_min: float
    attainment_max: float
    worker_seconds_min: float
    worker_seconds_max: float


@dataclass(frozen=True, eq=False)
class Comparison:
    trace: Trace
    world: World
    seed: int
    ideal_signals: bool
    target_attainment: float
    runs: tuple[Run, ...]
    """One per policy (the first repetition), in the order asked."""
    summaries: tuple[Summary, ...]
    spreads: tuple[Spread, ...]
    oracle: Oracle
    scored_from_s: float
    """Summaries and the oracle count from here on (0: the whole trace)."""
    clairvoyant_worker_seconds: float = math.inf
    """The clairvoyant bound at the target attainment: the oracle's counts paid with cold
    starts and a minimum useful life (`ebb.sim.clairvoyant`)."""

    @property
    def oracle_worker_seconds(self) -> float:
        """The ideal bound at the target attainment (no cold start)."""
        return self.oracle.worker_seconds_at(self.target_attainment)

    def ratio_to_oracle(self, summary: Summary) -> float:
        """A policy's cost over the ideal bound's at the target attainment."""
        return _ratio(summary.worker_seconds, self.oracle_worker_seconds)

    def ratio_to_clairvoyant(self, summary: Summary) -> float:
        """A policy's cost over the clairvoyant bound's at the target attainment."""
        return _ratio(summary.worker_seconds, self.clairvoyant_worker_seconds)


def _ratio(cost: float, bound: float) -> float:
    return cost / bound if 0 < bound < math.inf else math.nan


def pipeline_for(spec: PolicySpec, ideal: bool, cluster: Cluster | None = None) -> Pipeline:
    """The policy's system's signal path (on a cluster, its path there), or fresh signals at
    its own decision period."""
    pipeline = PIPELINES[spec.name] if cluster is None else cluster.pipeline(spec.name)
    return pipeline.ideal() if ideal else pipeline


def compare(trace: Trace, world: World, specs: Sequence[PolicySpec], *, seed: int,
            ideal_signals: bool = False, repeats: int = 1, target_attainment: float = 0.99,
            oracle_window_s: float | None = None, score_from_s: float = 0.0,
            progress: ProgressFactory | None = None) -> Comparison:
    """Simulate each policy (with `repeats` seeds) and compute the oracle.

    With `score_from_s` the policies run through the whole trace but are scored, like the
    oracle, only from that moment on: a held-out slice that starts in the state the policy
    brought itself to, not from a cold pool.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    world = warm_start(pin_size_unit(world, trace.sizes), trace.arrivals, trace.duration_s)
    runs: list[Run] = []
    summaries: list[Summary] = []
    spreads: list[Spread] = []
    for spec in specs:
        pipeline = pipeline_for(spec, ideal_signals, world.cluster)
        results: list[Summary] = []
        for r in range(repeats):
            label = spec.title if repeats == 1 else f"{spec.title} #{r + 1}"
            run = simulate(trace, world, spec, pipeline, seed=seed + r,
                           progress=progress(label) if progress else None)
            results.append(summarise(run, world.slo_s, trace.arrivals,
                                     start_s=score_from_s))
            if r == 0:
                runs.append(run)
        summaries.append(results[0])
        attain = np.array([s.slo_attainment for s in results])
        cost = np.array([s.worker_seconds for s in results])
        spreads.append(Spread(repeats, float(attain.min()), float(attain.max()),
                              float(cost.min()), float(cost.max())))
    width = oracle_window_s if oracle_window_s is not None else default_window(world.slo_s)
    scored = trace if score_from_s <= 0 else window(trace, score_from_s, math.inf)
    oracle = compute_oracle(scored, world, seed=seed, window_s=width)
    # the whole trace starts from the world's warm pool; a held-out slice from the count its
    # first window needs (the policies enter it warm too)
    start = world.start_workers if score_from_s <= 0 else \
        int(oracle.counts_at(target_attainment)[0])
    clairvoyant = clairvoyant_worker_seconds(oracle, world, target_attainment,
                                             duration_s=scored.duration_s,
                                             initial_workers=start)
    return Comparison(trace, world, seed, ideal_signals, target_attainment, tuple(runs),
                      tuple(summaries), tuple(spreads), oracle, score_from_s, clairvoyant)
