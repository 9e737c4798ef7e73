"""KEDA against its documented behaviour: activation on the polling interval, HPA in between,
cooldown back to zero."""

from __future__ import annotations

import pytest

from ebb.autoscale.policies.keda import KedaPolicy
from tests.autoscale.signals import follow, replay, signal


def test_activates_from_zero_on_the_next_poll_then_the_hpa_scales() -> None:
    ticks = [
        (0, {"queue": 0}),    # poll: inactive, nothing to do at 0; HPA disabled at 0
        (10, {"queue": 5}),   # requests arrive, but KEDA only looks every 30 s
        (29, {"queue": 20}),  # HPA sync: still disabled at 0
        (30, {"queue": 40}),  # poll: active -> 1
        (31, {"queue": 40}),  # the HPA's next sync is at 44
        (44, {"queue": 40}),  # HPA: ceil(40 / 4) = 10; no behavior: at most max(2 x 1, 4)
        (59, {"queue": 40}),  # HPA: at most 2 x 4
        (60, {"queue": 40}),  # poll: active, KEDA leaves it to the HPA (next sync 74)
        (74, {"queue": 40}),  # HPA: 10
    ]
    assert follow(KedaPolicy(threshold=4), 0, ticks) == [0, 0, 0, 1, 1, 4, 8, 8, 10]


def test_goes_to_zero_after_the_cooldown_since_last_active() -> None:
    ticks = [(0, {"queue": 8})] + [(t, {"queue": 0}) for t in range(15, 331, 15)]
    got = follow(KedaPolicy(threshold=4), 2, ticks)
    times = [t for t, _ in ticks]
    by_time = dict(zip(times, got, strict=True))
    # The HPA keeps 2 while its 300 s stabilisation remembers t=0, then drops to its
    # minimum 1; KEDA's poll after cooldown (last active t=0 + 300 s) takes it to 0.
    assert all(by_time[t] == 2 for t in range(0, 301, 15))
    assert by_time[315] == 1
    assert by_time[330] == 0


def test_activation_threshold_is_strictly_above() -> None:
    policy = KedaPolicy(threshold=4, activation_threshold=5)
    assert replay(policy, [signal(0, 0, queue=5)]) == [0]
    assert replay(policy, [signal(0, 0, queue=6)]) == [1]


def test_min_replica_count_sets_the_wake_count_and_blocks_zero() -> None:
    policy = KedaPolicy(threshold=4, min_replica_count=2)
    assert replay(policy, [signal(0, 0, queue=1)]) == [2]
    ticks = [(t, {"queue": 0}) for t in range(0, 1000, 30)]
    assert min(follow(policy, 2, ticks)) == 2


def test_never_active_object_scales_to_zero_after_initial_cooldown() -> None:
    policy = KedaPolicy(threshold=4, initial_cooldown_period_s=60)
    ticks = [(t, {"queue": 0}) for t in (0, 30, 60, 90)]
    assert follow(policy, 1, ticks) == [1, 1, 1, 0]


def test_failed_query_does_not_scale_to_zero() -> None:
    policy = KedaPolicy(threshold=4, cooldown_period_s=0)
    ticks = [(0, {"queue": 0, "available": False}), (30, {"queue": 0, "available": False})]
    assert follow(policy, 1, ticks) == [1, 1]


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="polling_interval_s"):
        KedaPolicy(polling_interval_s=0)
