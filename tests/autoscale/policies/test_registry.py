"""Policies by name."""

from __future__ import annotations

import pytest

from ebb.autoscale.policies import POLICIES, make_policy
from tests.autoscale.signals import replay, signal


@pytest.mark.parametrize("name", ["ebb", "hpa", "keda", "kpa", "ray"])
def test_every_policy_is_built_by_name_and_decides(name: str) -> None:
    policy = make_policy(name)
    assert policy.name == name
    [desired] = replay(policy, [signal(0, 2, queue=3, inflight=2, arrival=10.0,
                                       service=0.02)])
    assert desired >= 0


def test_knobs_reach_the_policy() -> None:
    policy = make_policy("hpa", target=10.0)
    assert replay(policy, [signal(0, 10, queue=100)]) == [10]


def test_unknown_names_and_knobs_are_explained() -> None:
    with pytest.raises(ValueError, match="known: ebb, hpa, keda, kpa, ray"):
        make_policy("cpu")
    with pytest.raises(ValueError, match=r"unknown knob.*tagret.*known:.*target"):
        make_policy("hpa", tagret=4)


def test_registry_is_read_only() -> None:
    assert sorted(POLICIES) == ["ebb", "hpa", "keda", "kpa", "ray"]
    with pytest.raises(TypeError):
        POLICIES["mine"] = POLICIES["ebb"]  # type: ignore[index]
