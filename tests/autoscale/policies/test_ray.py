"""Ray Serve's default policy against its documented behaviour, tick by tick."""

from __future__ import annotations

import pytest

from ebb.autoscale.policies.ray import RayPolicy
from tests.autoscale.signals import follow, replay, signal


def every_second(start: int, end: int, **fields: int) -> list[tuple[float, dict[str, int]]]:
    return [(float(t), dict(fields)) for t in range(start, end + 1)]


def test_scales_up_after_30_s_of_wanting_more() -> None:
    # 10 ongoing / 2 per replica = 5 replicas wanted from t=0.
    got = follow(RayPolicy(), 1, every_second(0, 31, inflight=10))
    assert got[:30] == [1] * 30
    assert got[30:] == [5, 5]


def test_scales_down_after_600_s_of_wanting_less() -> None:
    ticks = [(float(t), {"inflight": 2}) for t in range(0, 621, 10)]
    got = dict(zip(range(0, 621, 10), follow(RayPolicy(), 5, ticks), strict=True))
    assert got[590] == 5
    assert got[600] == 1


def test_a_decision_the_other_way_restarts_the_wait() -> None:
    policy = RayPolicy(look_back_period_s=1)   # the metric is then just this tick's sample
    ticks = every_second(0, 19, inflight=10) + every_second(20, 20, inflight=2) \
        + every_second(21, 51, inflight=10)
    got = follow(policy, 1, ticks)
    assert got[:51] == [1] * 51    # the streak broke at t=20 and restarted at t=21
    assert got[51] == 5


def test_the_metric_is_the_mean_of_the_look_back_period() -> None:
    # 29 s of nothing, then 60 at once: the 30 s mean is 2, one replica's worth.
    rows = [signal(t, 1) for t in range(29)] + [signal(29, 1, inflight=60)]
    assert replay(RayPolicy(upscale_delay_s=0), rows)[-1] == 1
    assert replay(RayPolicy(upscale_delay_s=0, look_back_period_s=1), rows)[-1] == 30


def test_cold_start_skips_the_delays() -> None:
    policy = RayPolicy(min_replicas=0)
    rows = [
        signal(0, 0, queue=0),
        signal(1, 0, queue=1),                    # no running replica, a request: 1 at once
        signal(2, 1, ready=0, starting=1, queue=50),  # still starting: keeps the target
    ]
    assert replay(policy, rows) == [0, 1, 1]


def test_one_to_zero_uses_its_own_delay() -> None:
    policy = RayPolicy(min_replicas=0, downscale_to_zero_delay_s=60)
    ticks = [(float(t), {"inflight": 0}) for t in range(0, 61, 10)]
    assert follow(policy, 1, ticks) == [1, 1, 1, 1, 1, 1, 0]


def test_downscale_stops_at_one_replica_unless_going_from_one() -> None:
    policy = RayPolicy(min_replicas=0, downscale_delay_s=0)
    assert follow(policy, 4, [(0.0, {"inflight": 0}), (1.0, {"inflight": 0})]) == [1, 0]


def test_smoothing_factors_move_part_of_the_way() -> None:
    assert RayPolicy(upscaling_factor=0.5).desired_replicas(total=20, running=2) == 6
    # a small downscaling factor would stall at 3; Ray then takes one step down anyway
    assert RayPolicy(downscaling_factor=0.1).desired_replicas(total=4, running=3) == 2


def test_no_metric_holds() -> None:
    assert replay(RayPolicy(), [signal(0, 3, inflight=100, available=False)]) == [3]


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="target_ongoing_requests"):
        RayPolicy(target_ongoing_requests=0)
