"""The shared rails, around a scripted inner policy so each rail is seen on its own."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from ebb.autoscale.policies import make_policy
from ebb.autoscale.policies.limits import (
    Bounded,
    Limits,
    ScaleToZero,
    Stabilised,
    StepLimited,
    with_limits,
)
from ebb.autoscale.types import ScalingDecision, ScalingInput
from tests.autoscale.signals import follow, replay, signal


@dataclass(frozen=True)
class Scripted:
    """Says the next number of its script each tick (its state is the position)."""

    script: tuple[int, ...]

    @property
    def name(self) -> str:
        return "scripted"

    def initial_state(self) -> int:
        return 0

    def decide(self, signal: ScalingInput, state: int) -> tuple[ScalingDecision, int]:
        return ScalingDecision(self.script[state], "scripted"), state + 1


def test_bounded_clamps_both_ways() -> None:
    policy = Bounded(Scripted((0, 5, 20)), min_workers=1, max_workers=8)
    got = replay(policy, [signal(t, 3) for t in range(3)])
    assert got == [1, 5, 8]


def test_stabilised_down_takes_the_highest_of_the_window() -> None:
    policy = Stabilised(Scripted((5, 2, 2, 2)), down_window_s=10)
    ticks = [(t, {}) for t in (0.0, 5.0, 10.0, 15.0)]
    # t=0 records the current 5; 2 wins once nothing higher is left in (now - 10, now].
    assert follow(policy, 5, ticks) == [5, 5, 2, 2]


def test_stabilised_up_takes_the_lowest_of_the_window() -> None:
    policy = Stabilised(Scripted((1, 6, 6, 6)), up_window_s=10)
    ticks = [(t, {}) for t in (0.0, 5.0, 10.0, 15.0)]
    assert follow(policy, 1, ticks) == [1, 1, 6, 6]


def test_step_limited_moves_at_most_a_step_per_decision() -> None:
    up = StepLimited(Scripted((10, 10, 10)), max_up=3)
    assert follow(up, 2, [(t, {}) for t in (0.0, 1.0, 2.0)]) == [5, 8, 10]
    down = StepLimited(Scripted((0, 0)), max_down=2)
    assert follow(down, 10, [(0.0, {}), (1.0, {})]) == [8, 6]


def test_scale_to_zero_after_idle_time_and_wake_on_demand() -> None:
    never_zero = ScaleToZero(Scripted((2,) * 6), idle_s=60)
    ticks = [(0.0, {"queue": 3}), (30.0, {}), (59.0, {}), (60.0, {}), (61.0, {}),
             (62.0, {"arrival": 1.0})]
    # the inner policy never says 0: zero comes from the idle rule, demand wins it back
    assert follow(never_zero, 2, ticks) == [2, 2, 2, 0, 0, 2]
    eager = ScaleToZero(Scripted((0,) * 4), idle_s=60)
    ticks = [(0.0, {"queue": 3}), (30.0, {}), (60.0, {}), (61.0, {"inflight": 1})]
    # an early wish for zero is held at one; demand at zero wakes one worker
    assert follow(eager, 2, ticks) == [1, 1, 0, 1]


def test_scale_to_zero_ignores_a_failed_signal() -> None:
    policy = ScaleToZero(Scripted((1, 1)), idle_s=0)
    got = replay(policy, [signal(0, 1, queue=1), signal(5, 1, available=False)])
    assert got == [1, 1]


def test_with_limits_wraps_any_policy() -> None:
    limits = Limits(min_workers=1, max_workers=8, scale_down_window_s=30, max_step_up=4,
                    scale_to_zero_after_s=120)
    policy = with_limits(make_policy("ebb"), limits)
    assert policy.name == "ebb"
    burst = signal(0, 1, arrival=300.0, queue=125, service=0.02)
    # Ebb wants 25; the step limit allows 1 + 4, within the max of 8
    assert replay(policy, [burst]) == [5]
    for name in ("hpa", "keda", "kpa", "ray"):
        wrapped = with_limits(make_policy(name), Limits(min_workers=2, max_workers=3))
        assert replay(wrapped, [signal(0, 2, queue=1000, inflight=1000)])[0] in (2, 3)


def test_limits_validate() -> None:
    with pytest.raises(ValueError, match="min_workers"):
        Limits(min_workers=5, max_workers=2)
    with pytest.raises(ValueError, match="max_up"):
        StepLimited(Scripted((1,)), max_up=0)
