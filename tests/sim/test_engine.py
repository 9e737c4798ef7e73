"""The engine on cases small enough to work out by hand, plus conservation and determinism."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from ebb.autoscale.types import ScalingDecision, ScalingInput
from ebb.sim.engine import Run, simulate, simulate_fixed, simulate_policy
from ebb.sim.world import PIPELINES, ColdStart, Pipeline, PolicySpec, ServiceModel, World
from ebb.traces import Trace, bursty, step


def _trace(times: list[float], duration: float) -> Trace:
    return Trace(np.asarray(times, dtype=np.float64), None, "hand", None, duration)


def _world(**changes: object) -> World:
    base: dict[str, object] = {
        "service": ServiceModel(0.1, 0.0), "cold_start": ColdStart(0.0), "slo_s": 0.2,
        "min_workers": 1, "max_workers": 4, "max_batch_size": 1, "max_delay_s": 0.0}
    base.update(changes)
    return World(**base)  # type: ignore[arg-type]


@dataclass
class Scripted:
    """Wants `steps[i][1]` workers from `steps[i][0]` on, and keeps every signal it saw."""

    steps: tuple[tuple[float, int], ...]
    seen: list[ScalingInput] = field(default_factory=list)

    @property
    def name(self) -> str:
        return "scripted"

    def initial_state(self) -> None:
        return None

    def decide(self, signal: ScalingInput, state: None) -> tuple[ScalingDecision, None]:
        self.seen.append(signal)
        wanted = signal.current_workers
        for at, workers in self.steps:
            if signal.now >= at:
                wanted = workers
        return ScalingDecision(wanted, "script"), None


EVERY_HALF_SECOND = Pipeline("test", 0.5, 0.5)


def test_single_worker_fifo_latencies_are_exact() -> None:
    run = simulate_fixed(_trace([0.0, 0.01, 0.02, 1.0], 2.0), _world(), 1, seed=0)
    # service 100 ms, one at a time: 0.1; waits 0.09 then 0.1; waits 0.18 then 0.1; alone
    assert run.latency_s.tolist() == pytest.approx([0.1, 0.19, 0.28, 0.1])
    assert run.worker_seconds == pytest.approx(2.0)


def test_batching_follows_the_production_rule() -> None:
    world = _world(service=ServiceModel(0.1, 0.01), max_batch_size=4, max_delay_s=0.005)
    run = simulate_fixed(_trace([0.0, 0.01, 0.02, 1.0], 2.0), world, 1, seed=0)
    # 0.0 leaves alone at its 5 ms deadline (done 0.115); 0.01 and 0.02 leave together when
    # the worker frees at 0.115 (their deadline has passed), taking 0.12 s (done 0.235)
    assert run.latency_s.tolist() == pytest.approx([0.115, 0.225, 0.215, 0.115])


def test_a_full_batch_leaves_before_its_deadline() -> None:
    world = _world(service=ServiceModel(0.05, 0.0), max_batch_size=2, max_delay_s=1.0)
    run = simulate_fixed(_trace([0.0, 0.01], 1.0), world, 1, seed=0)
    assert run.latency_s.tolist() == pytest.approx([0.06, 0.05])


def test_full_queue_refuses_and_refusals_are_misses() -> None:
    run = simulate_fixed(_trace([0.0, 0.01, 0.02, 0.03], 1.0), _world(queue_bound=1), 1,
                         seed=0)
    assert run.rejected.tolist() == [False, False, True, True]
    assert run.latency_s[:2].tolist() == pytest.approx([0.1, 0.19])
    assert np.isnan(run.latency_s[2:]).all()


def test_cold_start_delays_the_first_answer() -> None:
    world = _world(min_workers=0, initial_workers=0, cold_start=ColdStart(1.0))
    policy = Scripted(((0.5, 1),))
    run = simulate_policy(_trace([0.1], 3.0), world, policy, "s", EVERY_HALF_SECOND, seed=0)
    # ordered at the 0.5 s tick, ready at 1.5, answers at 1.6
    assert run.latency_s.tolist() == pytest.approx([1.5])
    assert run.worker_seconds == pytest.approx(2.5)
    assert [(e.at, e.before, e.after) for e in run.scale_events] == [(0.5, 0, 1)]
    assert [s.starting_workers for s in policy.seen if s.now == 1.0] == [1]


def test_scale_in_drains_busy_workers_after_their_batch() -> None:
    world = _world(service=ServiceModel(1.0, 0.0), initial_workers=2, min_workers=0)
    policy = Scripted(((0.5, 1),))
    run = simulate_policy(_trace([0.0, 0.001, 1.2], 3.0), world, policy, "s",
                          EVERY_HALF_SECOND, seed=0)
    assert run.latency_s.tolist() == pytest.approx([1.0, 1.0, 1.0])
    # the newer worker drains: it answers at 1.001 and stops; the older one runs to the end
    assert run.worker_seconds == pytest.approx(3.0 + 1.001)


def test_scale_in_takes_idle_workers_before_busy_ones() -> None:
    world = _world(service=ServiceModel(1.0, 0.0), initial_workers=3, min_workers=0)
    run = simulate_policy(_trace([0.0], 3.0), world, Scripted(((0.5, 1),)), "s",
                          EVERY_HALF_SECOND, seed=0)
    assert run.latency_s.tolist() == pytest.approx([1.0])
    assert run.worker_seconds == pytest.approx(3.0 + 0.5 + 0.5)


def test_signals_are_built_like_the_live_controller_with_lag() -> None:
    world = _world(min_workers=0, initial_workers=0)
    policy = Scripted(((0.0, 0),))
    pipeline = Pipeline("lagged", scrape_interval_s=1.0, decision_period_s=0.5,
                        reporting_lag_s=1.0)
    simulate_policy(_trace([0.25, 0.75, 1.25, 1.75, 2.25], 2.5), world, policy, "s",
                    pipeline, seed=0)
    by_time = {s.now: s for s in policy.seen}
    assert not by_time[0.5].metric_available
    assert by_time[1.0].queue_depth == 0
    at_two = by_time[2.0]
    assert at_two.metric_available
    assert at_two.queue_depth == 2  # scraped at 1.0, seen at 2.0
    assert at_two.arrival_rate == pytest.approx(2.0)  # 2 admitted between 0 and 1 s
    assert at_two.slo_s == 0.2
    assert at_two.current_workers == 0


def _conserved(run: Run) -> None:
    answered = int(np.count_nonzero(run.answered))
    rejected = int(np.count_nonzero(run.rejected))
    unanswered = len(run.latency_s) - answered - rejected
    assert unanswered >= 0
    assert not np.any(run.answered & run.rejected)
    assert np.all(run.latency_s[run.answered] > 0)


@pytest.mark.parametrize("name", list(PIPELINES))
def test_every_arrival_is_answered_refused_or_still_waiting(name: str) -> None:
    trace = bursty(40, 400, 5, 2, 40, seed=3)
    world = World(ServiceModel(0.02, 0.002, cv=0.3), ColdStart(2.0, 0.5), slo_s=0.2,
                  max_workers=8, max_batch_size=8, queue_bound=200, drain_s=0.0)
    run = simulate(trace, world, PolicySpec(name), PIPELINES[name], seed=1)
    _conserved(run)
    assert len(run.latency_s) == len(trace)
    # with time to drain, nothing is left waiting
    drained = simulate(trace, World(world.service, world.cold_start, 0.2, max_workers=8,
                                    max_batch_size=8, queue_bound=200, drain_s=600.0),
                       PolicySpec(name), PIPELINES[name], seed=1)
    assert int(np.count_nonzero(drained.answered | drained.rejected)) == len(trace)


@pytest.mark.parametrize("name", list(PIPELINES))
def test_same_seed_same_run(name: str) -> None:
    trace = step(50, 300, 10, 30, seed=2)
    world = World(ServiceModel(0.02, 0.002, cv=0.5), ColdStart(1.0, 0.3), slo_s=0.2,
                  max_workers=8, max_batch_size=8)
    first = simulate(trace, world, PolicySpec(name), PIPELINES[name], seed=7)
    second = simulate(trace, world, PolicySpec(name), PIPELINES[name], seed=7)
    assert np.array_equal(first.latency_s, second.latency_s, equal_nan=True)
    assert first.scale_events == second.scale_events
    assert first.worker_seconds == second.worker_seconds
    other = simulate(trace, world, PolicySpec(name), PIPELINES[name], seed=8)
    assert not np.array_equal(first.latency_s, other.latency_s, equal_nan=True)


def test_policies_stay_within_the_bounds() -> None:
    trace = step(50, 2000, 5, 20, seed=2)
    world = World(ServiceModel(0.02, 0.002), ColdStart(0.5), slo_s=0.2, min_workers=2,
                  max_workers=5, max_batch_size=4)
    for name in PIPELINES:
        run = simulate(trace, world, PolicySpec(name), PIPELINES[name], seed=0)
        workers = run.timeline.starting + run.timeline.ready
        assert workers.max() <= 5
        assert workers.min() >= 2


def test_size_scaled_service_charges_large_requests_more() -> None:
    trace = Trace(np.array([0.0, 1.0]), np.array([1.0, 3.0]), "sized", None, 2.0)
    world = _world(service=ServiceModel(0.0, 0.1, size_scaled=True))
    run = simulate_fixed(trace, world, 1, seed=0)
    # mean size 2: the first costs 0.5 x 0.1, the second 1.5 x 0.1
    assert run.latency_s.tolist() == pytest.approx([0.05, 0.15])
