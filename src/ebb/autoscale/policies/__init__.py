"""Scaling policies by name, and the limits shared by all of them.

    policy = with_limits(make_policy("hpa", target=4), Limits(min_workers=1, max_workers=8))

- ``ebb``: Ebb's own queueing-arithmetic policy (the default).
- ``hpa``: the Kubernetes Horizontal Pod Autoscaler.
- ``keda``: KEDA with a Prometheus trigger (activation plus an HPA).
- ``kpa``: Knative's pod autoscaler.
- ``ray``: Ray Serve's default autoscaling policy.

Knobs are each policy's dataclass fields; an unknown knob is an error that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from types import MappingProxyType
from typing import Any

from ebb.autoscale.policies.ebb import EbbPolicy
from ebb.autoscale.policies.hpa import HpaPolicy
from ebb.autoscale.policies.keda import KedaPolicy
from ebb.autoscale.policies.kpa import KpaPolicy
from ebb.autoscale.policies.limits import Limits, with_limits
from ebb.autoscale.policies.ray import RayPolicy
from ebb.autoscale.types import Policy

_CLASSES: Mapping[str, type[EbbPolicy | HpaPolicy | KedaPolicy | KpaPolicy | RayPolicy]] = {
    "ebb": EbbPolicy,
    "hpa": HpaPolicy,
    "keda": KedaPolicy,
    "kpa": KpaPolicy,
    "ray": RayPolicy,
}

POLICIES: Mapping[str, Callable[..., Policy[Any]]] = MappingProxyType(dict(_CLASSES))
"""Policy constructors by name (read-only)."""


def make_policy(name: str, **knobs: object) -> Policy[Any]:
    """Build the policy called `name` with the given knobs (its dataclass fields)."""
    cls = _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown policy {name!r}; known: {', '.join(sorted(_CLASSES))}")
    known = {f.name for f in fields(cls) if f.init and f.name != "label"}
    unknown = sorted(set(knobs) - known)
    if unknown:
        raise ValueError(f"unknown knob(s) {', '.join(unknown)} for policy {name!r}; "
                         f"known: {', '.join(sorted(known))}")
    return POLICIES[name](**knobs)


__all__ = [
    "POLICIES",
    "EbbPolicy",
    "HpaPolicy",
    "KedaPolicy",
    "KpaPolicy",
    "Limits",
    "RayPolicy",
    "make_policy",
    "with_limits",
]
