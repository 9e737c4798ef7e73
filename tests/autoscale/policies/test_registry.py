"""Policies by name."""

from __future__ import annotations

import pytest

from ebb.autoscale.policies import (
    POLICIES,
    POLICY_NAMES,
    EbbPolicy,
    KnobError,
    Limits,
    build_policy,
    make_policy,
    parse_knob,
)
from ebb.autoscale.policies.hpa import MetricKind
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


@pytest.mark.parametrize(("policy", "text", "expected"), [
    ("kpa", "container_concurrency=1", ("container_concurrency", 1)),
    ("kpa", "enable-scale-to-zero=false", ("enable_scale_to_zero", False)),
    ("ebb", "miss_fraction=0.05", ("miss_fraction", 0.05)),
    ("ray", "downscale_to_zero_delay_s=none", ("downscale_to_zero_delay_s", None)),
    ("hpa", "metric=External/Value", ("metric", MetricKind.EXTERNAL_VALUE)),
    ("kpa", "kpa.container_concurrency=2", ("container_concurrency", 2)),  # as ebb sim spells it
])
def test_knob_text_is_typed_by_the_policy_field(policy: str, text: str,
                                                expected: tuple[str, object]) -> None:
    assert parse_knob(policy, text) == expected


@pytest.mark.parametrize(("policy", "text", "message"), [
    ("kpa", "container_concurrency=abc",
     "knob container_concurrency of policy 'kpa' takes a whole number, got 'abc'"),
    ("ebb", "miss_fraction=lots", "knob miss_fraction of policy 'ebb' takes a number"),
    ("kpa", "enable_scale_to_zero=maybe", "takes true or false"),
    ("hpa", "metric=cpu", "takes one of Pods/AverageValue, External/AverageValue"),
    ("hpa", "behavior=x", "cannot be given as text"),
    ("hpa", "tagret=4", "unknown knob 'tagret' for policy 'hpa'"),
    ("hpa", "target", "'target' is not [POLICY.]KNOB=VALUE"),
    ("kpa", "hpa.target=2", "sets a knob of policy 'hpa', but the policy is 'kpa'"),
])
def test_bad_knob_text_is_one_line_naming_the_knob(policy: str, text: str,
                                                   message: str) -> None:
    with pytest.raises(KnobError) as caught:
        parse_knob(policy, text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_knob_value_the_policy_refuses_is_a_knob_error() -> None:
    with pytest.raises(KnobError, match="policy 'ebb'"):
        make_policy("ebb", miss_fraction=2.0)


def test_build_policy_injects_the_hosts_scale_in_delay_unless_a_knob_says_otherwise() -> None:
    limits = Limits(min_workers=1, max_workers=4)
    assert _inner(build_policy("ebb", {}, limits, scale_in_delay_s=5.0)).scale_in_delay_s == 5.0
    explicit = build_policy("ebb", {"scale_in_delay_s": 9.0}, limits, scale_in_delay_s=5.0)
    assert _inner(explicit).scale_in_delay_s == 9.0
    assert build_policy("kpa", {}, limits, scale_in_delay_s=5.0).name == "kpa"


def test_names_come_from_one_list() -> None:
    assert POLICY_NAMES[0] == "ebb"
    assert set(POLICY_NAMES) == set(POLICIES)


def _inner(policy: object) -> EbbPolicy:
    while not isinstance(policy, EbbPolicy):
        policy = policy.inner  # type: ignore[attr-defined]
    return policy
