"""Scaling policies by name, and the limits shared by all of them.

    policy = build_policy("hpa", {"target": 4}, Limits(min_workers=1, max_workers=8))

- ``ebb``: Ebb's own queueing-arithmetic policy (the default).
- ``hpa``: the Kubernetes Horizontal Pod Autoscaler.
- ``keda``: KEDA with a Prometheus trigger (activation plus an HPA).
- ``kpa``: Knative's pod autoscaler.
- ``ray``: Ray Serve's default autoscaling policy.

Knobs are each policy's dataclass fields; an unknown knob or a bad value is a ``KnobError``
whose one line names the knob and what it accepts.
"""

from __future__ import annotations

from ebb.autoscale.policies.ebb import EbbPolicy
from ebb.autoscale.policies.hpa import HpaPolicy
from ebb.autoscale.policies.keda import KedaPolicy
from ebb.autoscale.policies.kpa import KpaPolicy
from ebb.autoscale.policies.limits import Limits, check_bounds, with_limits
from ebb.autoscale.policies.ray import RayPolicy
from ebb.autoscale.policies.registry import (
    DEFAULT_POLICY,
    POLICIES,
    POLICY_NAMES,
    KnobError,
    build_policy,
    coerce_knobs,
    knob_types,
    make_policy,
    parse_knob,
    parse_knob_value,
)

__all__ = [
    "DEFAULT_POLICY",
    "POLICIES",
    "POLICY_NAMES",
    "EbbPolicy",
    "HpaPolicy",
    "KedaPolicy",
    "KnobError",
    "KpaPolicy",
    "Limits",
    "RayPolicy",
    "build_policy",
    "check_bounds",
    "coerce_knobs",
    "knob_types",
    "make_policy",
    "parse_knob",
    "parse_knob_value",
    "with_limits",
]
