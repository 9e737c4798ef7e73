"""The HPA against its documented behaviour, sync by sync."""

from __future__ import annotations

import pytest

from ebb.autoscale.policies.hpa import (
    Behavior,
    HpaPolicy,
    MetricKind,
    RateRule,
    RateUnit,
    ScalingRules,
    SelectPolicy,
    pods_average_value_proposal,
)
from tests.autoscale.signals import follow, replay, signal

DEFAULT_UP_RULES = (RateRule(RateUnit.PODS, 4, 15.0), RateRule(RateUnit.PERCENT, 100, 15.0))


@pytest.mark.parametrize("metric", [MetricKind.EXTERNAL_AVERAGE_VALUE,
                                    MetricKind.PODS_AVERAGE_VALUE])
@pytest.mark.parametrize(("queued", "expected"), [(40, 10), (41, 10), (42, 10), (43, 10),
                                                  (45, 12)])
def test_kubernetes_116984_tolerance_on_ten_replicas(metric: MetricKind, queued: int,
                                                     expected: int) -> None:
    """kubernetes/kubernetes#116984: 4 per replica on 10 replicas; 41-43 queued is within the
    10 % tolerance, so nothing happens; 45 is 12.5 % over and asks for ceil(45 / 4) = 12."""
    policy = HpaPolicy(target=4, metric=metric)
    assert replay(policy, [signal(0, 10, queue=queued)]) == [expected]


def test_decides_only_once_per_sync_period() -> None:
    policy = HpaPolicy(target=4)
    rows = [
        (0, 10, 40),   # first sync: within tolerance
        (5, 10, 80),   # between syncs: the HPA does not look
        (14.9, 10, 80),
        (15, 10, 80),  # sync: ceil(80 / 4) = 20, allowed: max(10 + 4, 2 x 10) = 20
        (20, 20, 400),
        (30, 20, 400),  # 100 wanted, allowed max(20 + 4, 40) = 40
    ]
    got = replay(policy, [signal(t, w, queue=q) for t, w, q in rows])
    assert got == [10, 10, 10, 20, 20, 40]


def test_default_scale_up_limit_is_four_pods_or_double_per_period() -> None:
    # 100 queued at 4 per worker wants 25; each 15 s sync may add max(+4, x2). At 24 the
    # ratio (4.17 per pod vs 4) is within tolerance, so the HPA stops one short.
    ticks = [(t, {"queue": 100}) for t in (0, 15, 30, 45, 60)]
    assert follow(HpaPolicy(target=4), 2, ticks) == [6, 12, 24, 24, 24]


def test_scale_down_waits_for_the_highest_recommendation_of_300_s() -> None:
    ticks = [(0, {"queue": 40})] + [(t, {"queue": 4}) for t in range(15, 316, 15)]
    got = follow(HpaPolicy(target=4), 10, ticks)
    # t=0 recorded 10; the proposal 1 from t=15 on wins once t=0 leaves the window (t=300).
    assert got[:-2] == [10] * 20
    assert got[-2:] == [1, 1]


def test_scale_down_rate_rule_counts_from_the_start_of_its_period() -> None:
    one_pod_per_minute = ScalingRules(0.0, (RateRule(RateUnit.PODS, 1, 60.0),))
    policy = HpaPolicy(target=4, behavior=Behavior(scale_down=one_pod_per_minute))
    ticks = [(t, {"queue": 0}) for t in (0, 15, 30, 45, 60, 75, 120)]
    assert follow(policy, 5, ticks) == [4, 4, 4, 4, 3, 3, 2]


def test_select_policy_min_takes_the_smaller_scale_up() -> None:
    cautious = ScalingRules(0.0, DEFAULT_UP_RULES, SelectPolicy.MIN)
    policy = HpaPolicy(target=4, behavior=Behavior(scale_up=cautious))
    # wants 100; Pods rule allows 10 + 4 = 14, Percent rule 20; Min picks 14.
    assert replay(policy, [signal(0, 10, queue=400)]) == [14]


def test_select_policy_disabled_blocks_that_direction() -> None:
    frozen = ScalingRules(0.0, (), SelectPolicy.DISABLED)
    policy = HpaPolicy(target=4, behavior=Behavior(scale_down=frozen))
    ticks = [(t, {"queue": 0}) for t in (0, 15, 30)] + [(45, {"queue": 80})]
    assert follow(policy, 5, ticks) == [5, 5, 5, 10]


def test_without_behavior_the_controller_caps_scale_up_at_double_or_four() -> None:
    policy = HpaPolicy(target=4, behavior=None)
    ticks = [(t, {"queue": 400}) for t in (0, 15, 30, 45)]
    assert follow(policy, 1, ticks) == [4, 8, 16, 32]


def test_without_behavior_scale_down_is_stabilised_then_unlimited() -> None:
    policy = HpaPolicy(target=4, behavior=None, downscale_stabilization_s=30)
    ticks = [(0, {"queue": 40}), (15, {"queue": 0}), (30, {"queue": 0}), (45, {"queue": 0})]
    # the legacy window includes its start: t=0 still counts at t=30.
    assert follow(policy, 10, ticks) == [10, 10, 10, 1]


def test_external_value_target_scales_ready_pods_by_the_ratio() -> None:
    policy = HpaPolicy(target=10, metric=MetricKind.EXTERNAL_VALUE)
    assert replay(policy, [signal(0, 2, queue=30)]) == [6]
    assert replay(policy, [signal(0, 4, ready=2, starting=2, queue=30)]) == [6]


def test_scaling_is_disabled_at_zero_replicas() -> None:
    assert replay(HpaPolicy(target=4), [signal(0, 0, queue=100)]) == [0]


def test_bounds_apply_before_the_metric() -> None:
    policy = HpaPolicy(target=4, min_replicas=2, max_replicas=5)
    assert replay(policy, [signal(0, 8, queue=0)]) == [5]
    assert replay(policy, [signal(0, 1, queue=0)]) == [2]
    assert replay(policy, [signal(0, 4, queue=400)]) == [5]


def test_metric_unavailable_keeps_the_count() -> None:
    got = replay(HpaPolicy(target=4), [signal(0, 3, queue=400, available=False)])
    assert got == [3]


def test_inflight_counts_when_asked() -> None:
    policy = HpaPolicy(target=4, include_inflight=True)
    assert replay(policy, [signal(0, 2, queue=4, inflight=12)]) == [4]


def test_missing_pods_count_as_target_on_scale_down() -> None:
    # 3 pods report 9 (ratio 0.75, a scale-down); the 4th counts as exactly on target:
    # 13 over 4 pods is 3.25 per pod, which asks for 4: no change.
    assert pods_average_value_proposal(4, 9, reporting=3, unready=0, missing=1, target=4,
                                       tolerance=0.1) == 4
    assert pods_average_value_proposal(4, 9, reporting=4, unready=0, missing=0, target=4,
                                       tolerance=0.1) == 3


def test_missing_pods_count_as_zero_on_scale_up() -> None:
    # 3 pods report 24 (ratio 2); the 4th counts as 0: 24 over 4 pods asks for 6.
    assert pods_average_value_proposal(4, 24, reporting=3, unready=0, missing=1, target=4,
                                       tolerance=0.1) == 6


def test_unready_pods_damp_a_scale_up() -> None:
    # 2 ready pods report 17 (ratio 2.1); 2 starting ones count as 0: 4.25 per pod over 4
    # pods is within tolerance, so nothing changes (2 ready alone would ask for 5).
    assert pods_average_value_proposal(4, 17, reporting=2, unready=2, missing=0, target=4,
                                       tolerance=0.1) == 4
    policy = HpaPolicy(target=4)
    assert replay(policy, [signal(0, 4, starting=2, queue=17)]) == [4]


def test_missing_metric_through_the_policy() -> None:
    policy = HpaPolicy(target=4)
    assert replay(policy, [signal(0, 4, queue=9, unreported=1)]) == [4]
    assert replay(policy, [signal(0, 4, queue=9, unreported=4)]) == [4]


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError, match="target"):
        HpaPolicy(target=0)
    with pytest.raises(ValueError, match="at least one rate rule"):
        ScalingRules(0.0, ())

