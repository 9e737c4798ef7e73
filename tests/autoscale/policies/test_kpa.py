"""Knative's KPA against its documented behaviour, one second per row."""

from __future__ import annotations

import pytest

from ebb.autoscale.policies.kpa import KpaPolicy, KpaState, window_average
from tests.autoscale.signals import follow, replay, signal

# containerConcurrency 10 at 70 % utilisation: a target of 7 requests per pod.
KPA = KpaPolicy(container_concurrency=10)


def concurrency(schedule: list[tuple[int, int, int]]) -> list[tuple[float, dict[str, int]]]:
    """One tick per second: (from, to inclusive, concurrency) ranges."""
    return [(float(t), {"inflight": c}) for start, end, c in schedule
            for t in range(start, end + 1)]


def test_target_is_concurrency_times_utilisation() -> None:
    assert KPA.target == pytest.approx(7.0)
    assert KpaPolicy().target == pytest.approx(70.0)   # soft default 100 x 70 %
    assert KpaPolicy(container_concurrency=1).target == pytest.approx(0.7)


def test_stable_mode_holds_a_steady_load_and_decides_every_two_seconds() -> None:
    got = follow(KPA, 2, concurrency([(0, 30, 14)]))
    assert got == [2] * 31
    policy_rows = [signal(0, 1, inflight=30), signal(1, 1, inflight=30),
                   signal(2, 1, inflight=30)]
    # t=0 decides, t=1 waits for the 2 s tick, t=2 decides again.
    assert replay(KPA, policy_rows) == [5, 1, 5]


def test_panic_enters_extends_never_scales_down_and_leaves_after_a_stable_window() -> None:
    ticks = concurrency([(0, 59, 7), (60, 69, 70), (70, 140, 7)])
    got = dict(zip([int(t) for t, _ in ticks], follow(KPA, 1, ticks), strict=True))
    expected = {
        58: 1,
        60: 3,    # 6 s window jumps: ceil(17.5 / 7) = 3 pods >= 2 x 1 ready: panic
        61: 3,    # between ticks
        62: 6,    # still over threshold (6 / 3): panic extended
        64: 9,    # under threshold, but panic lasts a stable window past t=62
        66: 10,
        70: 10,   # load gone from the panic window: panic never scales down
        122: 10,  # 60 s after the last tick over the threshold: still panicking
        124: 5,   # out of panic: stable wants 2, max scale-down rate 2 halves at most
        126: 2,
        128: 2,
        130: 1,
    }
    assert {t: got[t] for t in expected} == expected


def test_scales_to_zero_after_a_stable_window_plus_grace() -> None:
    ticks = concurrency([(0, 9, 7), (10, 110, 0)])
    got = dict(zip([int(t) for t, _ in ticks], follow(KPA, 1, ticks), strict=True))
    assert got[68] == 1    # bucket t=9 still inside the 60 s window
    assert got[70] == 1    # stable window empty: inactive, held at 1 for the grace period
    assert got[98] == 1
    assert got[100] == 0   # 30 s grace over


def test_scale_to_zero_can_be_disabled() -> None:
    ticks = concurrency([(0, 100, 0)])
    assert set(follow(KpaPolicy(enable_scale_to_zero=False), 1, ticks)) == {1}


def test_a_request_at_zero_pokes_the_autoscaler_at_once() -> None:
    rows = [signal(0.0, 0), signal(0.5, 0, queue=1)]
    assert replay(KPA, rows) == [0, 1]


def test_max_scale_up_rate_bounds_a_jump() -> None:
    slow = KpaPolicy(container_concurrency=10, max_scale_up_rate=2)
    assert replay(slow, [signal(0, 1, inflight=700)]) == [2]


def test_window_average_uses_only_buckets_since_data_began() -> None:
    state = KPA.record(KpaState(), 0.0, 10.0)
    state = KPA.record(state, 0.5, 20.0)     # same bucket: its mean is 15
    state = KPA.record(state, 1.0, 30.0)
    assert window_average(state, 1, 60) == pytest.approx((15 + 30) / 2)
    # a later gap counts as zero
    state = KPA.record(state, 3.0, 0.0)
    assert window_average(state, 3, 60) == pytest.approx((15 + 30 + 0 + 0) / 4)
    # the 6-bucket panic window restarts after a gap of a whole panic window
    state = KPA.record(state, 10.0, 12.0)
    assert window_average(state, 10, 6) == pytest.approx(12.0)


def test_no_metric_holds() -> None:
    assert replay(KPA, [signal(0, 3, inflight=700, available=False)]) == [3]
