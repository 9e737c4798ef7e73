"""Autoscaling on inference queue depth.

Data moves one way::

    signals ──▶ policy (pure) ──▶ decision ──▶ actuator
    (queue depth, in-flight,      (desired     (local worker processes,
     arrival/service rate)         workers,     Kubernetes scale subresource)
                                   reason)

- Signals are gathered into one `ScalingInput` per tick, whichever source read them (the gateway
  in-process, pods' `/metrics`, or Prometheus).
- A policy turns that input and its own frozen state into a `ScalingDecision` and its next state.
  It performs no I/O and reads no clock; time is `ScalingInput.now`. Ebb's own policy lives in
  `policies/ebb.py`; faithful re-implementations of Kubernetes HPA, KEDA, Knative KPA and Ray
  Serve sit beside it so they can be compared on the same signals.
- Shared limits (min/max, stabilisation windows, max step, scale-to-zero) are small wrappers in
  `policies/limits.py` that apply to any policy alike, so comparisons stay fair.
- An actuator applies the decision; the controller logs every decision with its reason.
"""

from __future__ import annotations

from ebb.autoscale.types import Policy, ScalingDecision, ScalingInput

__all__ = ["Policy", "ScalingDecision", "ScalingInput"]
