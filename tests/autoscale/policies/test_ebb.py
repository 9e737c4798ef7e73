"""Ebb's policy: fast on bursts, honest about cold starts, steady on release.

A worker here takes 20 ms per batch of one (mu = 50 requests/s); the SLO is 200 ms, so the
backlog should clear within 100 ms (half the SLO), and the target utilisation is 0.8.
`EBB` keeps the rules of earlier versions (no projection, fixed scale-in delay) so that their
arithmetic stays pinned; tests/autoscale/policies/test_ebb_burst.py covers the new rules.
"""

from __future__ import annotations

import pytest

from ebb.autoscale.policies.ebb import EbbPolicy
from tests.autoscale.signals import decisions, follow, replay, signal

EBB = EbbPolicy(sizing="utilisation", projection=False, release="delay")
MS20 = {"service": 0.02}


def test_steady_half_load_with_small_queues_stays_at_one_worker() -> None:
    queues = [0, 2, 1, 4, 0, 5, 3, 0, 1, 2]   # up to 5 queued clears within 100 ms
    ticks = [(i * 0.5, {"arrival": 25.0, "queue": q, "inflight": 1, **MS20})
             for i, q in enumerate(queues)]
    assert follow(EBB, 1, ticks) == [1] * len(queues)


def test_a_burst_is_met_at_once_and_cold_starts_are_not_ordered_twice() -> None:
    rows = [
        signal(0.0, 1, arrival=25.0, **MS20),
        # 6x load: arrivals want 300 / (50 x 0.8) = 7.5, the 125 queued want 125 / 5 = 25
        signal(0.5, 1, arrival=300.0, queue=125, **MS20),
        # 24 workers starting; the queue grows because they are not ready yet: no new order
        signal(1.0, 25, ready=1, starting=24, arrival=300.0, queue=400, **MS20),
        signal(1.5, 25, ready=1, starting=24, arrival=300.0, queue=650, **MS20),
        # a real rise in arrivals during the cold start still orders more: 1200 / 40 = 30
        signal(2.0, 25, ready=1, starting=24, arrival=1200.0, queue=900, **MS20),
    ]
    assert replay(EBB, rows) == [1, 25, 25, 25, 30]


def test_once_ready_the_queue_left_by_the_cold_start_counts_again() -> None:
    rows = [
        signal(0.0, 1, arrival=300.0, queue=125, **MS20),               # -> 25
        signal(1.0, 25, ready=1, starting=24, arrival=300.0, queue=400, **MS20),
        signal(2.0, 25, arrival=300.0, queue=500, **MS20),              # 500 / 5 = 100
    ]
    assert replay(EBB, rows) == [25, 25, 100]


def test_the_cold_start_cap_is_forgotten_once_no_worker_is_starting() -> None:
    rows = [
        signal(0.0, 1, arrival=300.0, queue=125, **MS20),               # -> 25
        signal(1.0, 25, arrival=300.0, **MS20),                         # all ready, drained
        # a replacement worker starts later: the old order no longer caps the queue
        signal(2.0, 25, ready=24, starting=1, arrival=300.0, queue=1000, **MS20),
    ]
    assert replay(EBB, rows) == [25, 25, 200]


def test_batching_raises_the_capacity_per_worker() -> None:
    # batches of 8 in 40 ms: mu = 200/s, 300/s needs 300 / 160 = 1.9 workers
    flat = EbbPolicy(sizing="utilisation", projection=False, release="delay", batching=False)
    batched = signal(0, 1, arrival=300.0, service=0.04, batch=8.0)
    single = signal(0, 1, arrival=300.0, service=0.04, batch=1.0)
    assert replay(flat, [batched]) == [2]
    assert replay(flat, [single]) == [15]


def test_scale_in_waits_for_the_delay_then_follows_demand_down() -> None:
    ticks = ([(t, {"arrival": 240.0, **MS20}) for t in (0.0, 10.0)]      # 6 needed, keep 7
             + [(t, {"arrival": 120.0, **MS20}) for t in (20.0, 30.0, 40.0, 50.0)]  # keep 4
             + [(t, {"arrival": 0.0, **MS20}) for t in (60.0, 70.0, 80.0, 90.0)])
    got = follow(EBB, 8, ticks)
    # t=0 records the 8 that exist: nothing goes before t=30; then the highest keep of the
    # last 30 s: 7, then 4, then 0 once the window holds only idle ticks.
    assert got == [8, 8, 8, 7, 4, 4, 4, 4, 0, 0]


def test_a_noisy_steady_load_does_not_flap() -> None:
    # arrivals wobble around the 4-worker boundary (3.75 to 4.25 workers' worth)
    ticks = [(i * 0.5, {"arrival": 150.0 if i % 2 else 170.0, **MS20}) for i in range(200)]
    got = follow(EBB, 4, ticks)
    changes = sum(1 for before, after in zip([4, *got], got, strict=False) if before != after)
    assert got[-1] == 5
    assert changes == 1


def test_without_a_measured_service_time_the_queue_decides() -> None:
    rows = [
        signal(0.0, 0, queue=10, inflight=2),                        # 12 / 4 -> 3
        signal(0.5, 3, ready=0, starting=3, queue=40),               # starting: no new order
        signal(1.0, 3, queue=40, inflight=3),                        # ready: 43 / 4 -> 11
    ]
    assert replay(EBB, rows) == [3, 3, 11]


def test_no_signal_holds() -> None:
    assert replay(EBB, [signal(0, 3, queue=500, available=False, **MS20)]) == [3]


def test_reason_states_the_arithmetic() -> None:
    [decision] = decisions(EBB, [signal(0.5, 1, arrival=300.0, queue=125, **MS20)])
    assert decision.reason.startswith("ebb: backlog -> 25 (have 1); backlog: queue 125 in "
                                      "100 ms = 25.00; rate 7.50")


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="target_utilisation"):
        EbbPolicy(target_utilisation=1.5)


def test_erlang_sizing_matches_queueing_theory() -> None:
    from ebb.autoscale.policies.ebb import erlang_c_workers

    # mu 50/s, 180 ms of waiting allowed for 99 % of requests
    assert [erlang_c_workers(rate, 50, 0.18, 0.01, 0.95) for rate in (0, 25, 100, 300, 1000)] \
        == [0, 1, 3, 7, 22]
    # a tighter objective or a cap on utilisation can only ask for more
    assert erlang_c_workers(300, 50, 0.001, 0.01, 0.95) > 7
    assert erlang_c_workers(1000, 50, 0.18, 0.01, 0.8) == 25


def test_default_policy_sizes_a_step_by_erlang_c_and_releases_with_margin() -> None:
    policy = EbbPolicy(scale_in_delay_s=10, projection=False)
    rows = [signal(0.0, 1, arrival=25.0, **MS20),
            signal(0.5, 1, arrival=300.0, **MS20),
            signal(1.0, 7, arrival=300.0, **MS20),
            signal(12.0, 7, arrival=25.0, **MS20)]
    assert replay(policy, rows) == [1, 7, 7, 1]
