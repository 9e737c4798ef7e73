"""The Kubernetes Horizontal Pod Autoscaler (autoscaling/v2), re-implemented as a pure policy.

Follows the published algorithm and defaults: the "Horizontal Pod Autoscaling" page on
kubernetes.io (algorithm details, configurable scaling behavior, default behavior) and the
controller in kubernetes/kubernetes, pkg/controller/podautoscaler (replica_calculator.go,
horizontal.go). Written from reading them; no code is copied.

Once per sync period (15 s, `--horizontal-pod-autoscaler-sync-period`):

1. Proposal from the metric, no change while the usage ratio is within the tolerance
   (0.1: ``1 - 0.1 <= ratio <= 1 + 0.1``):

   - Pods / AverageValue: ``ratio = mean per reporting pod / target``,
     ``proposal = ceil(ratio x reporting pods)``. Pods without a metric count as using exactly
     the target on a scale-down and 0 on a scale-up; not-ready pods count as 0 on a scale-up.
     If that filling-in lands within tolerance or flips the direction, nothing changes.
   - External / AverageValue: ``ratio = total / (target x replicas)``,
     ``proposal = ceil(total / target)`` (KEDA's path).
   - External / Value: ``ratio = value / target``, ``proposal = ceil(ratio x ready pods)``.

2. Stabilisation: a scale-down goes no lower than the highest proposal of the last 300 s, a
   scale-up no higher than the lowest of its window (0 s by default). The first sync records the
   current count as a proposal.
3. Rate limits from `Behavior`: per direction a list of Pods(n per period) / Percent(p per
   period) policies, counted from the replica count at the start of each period, combined by
   selectPolicy Max (default), Min or Disabled. Defaults: up ``max(+4 pods, +100 %)`` per 15 s,
   down 100 % per 15 s. With ``behavior=None`` the controller's older path applies (what an HPA
   without a ``behavior`` field, such as KEDA's, gets): up to ``max(2 x current, 4)``, scale-down
   stabilised over `downscale_stabilization_s`, no rate limit.
4. Bounds [min_replicas, max_replicas]. At 0 replicas with min_replicas > 0 the HPA does nothing
   (scaling is disabled); if the metric cannot be read it keeps the current count.

The metric here is the queue depth (plus in-flight with ``include_inflight``) per replica. Its
arithmetic follows the controller's: Pods metrics are milli-units averaged by integer division.
Not modelled: metric pipeline lag (a signal source's business), CPU-only readiness rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ebb.autoscale.policies.limits import TimedCount, stabilise
from ebb.autoscale.types import ScalingDecision, ScalingInput, hold

UNBOUNDED = 2**31 - 1
"""Largest replica count a Kubernetes int32 field holds; the default maximum here."""


class MetricKind(StrEnum):
    """Where the metric comes from and how its target is read."""

    PODS_AVERAGE_VALUE = "Pods/AverageValue"
    EXTERNAL_AVERAGE_VALUE = "External/AverageValue"
    EXTERNAL_VALUE = "External/Value"


class RateUnit(StrEnum):
    PODS = "Pods"
    PERCENT = "Percent"


class SelectPolicy(StrEnum):
    MAX = "Max"
    """The rule allowing the largest change wins."""
    MIN = "Min"
    """The rule allowing the smallest change wins."""
    DISABLED = "Disabled"
    """No change in this direction."""


@dataclass(frozen=True, slots=True)
class RateRule:
    """One HPAScalingPolicy: at most `value` pods (or percent) per `period_s`."""

    unit: RateUnit
    value: int
    period_s: float

    def __post_init__(self) -> None:
        if self.value < 1 or self.period_s <= 0:
            raise ValueError(f"a rate rule needs value >= 1 and period > 0, got {self}")


@dataclass(frozen=True, slots=True)
class ScalingRules:
    """HPAScalingRules for one direction."""

    stabilization_window_s: float
    policies: tuple[RateRule, ...]
    select_policy: SelectPolicy = SelectPolicy.MAX

    def __post_init__(self) -> None:
        if self.stabilization_window_s < 0:
            raise ValueError(f"stabilization window must not be negative, got {self}")
        if not self.policies and self.select_policy is not SelectPolicy.DISABLED:
            raise ValueError("scaling rules need at least one rate rule unless disabled")

    @property
    def longest_period_s(self) -> float:
        return max((rule.period_s for rule in self.policies), default=0.0)


DEFAULT_SCALE_UP = ScalingRules(
    stabilization_window_s=0.0,
    policies=(RateRule(RateUnit.PODS, 4, 15.0), RateRule(RateUnit.PERCENT, 100, 15.0)),
)
DEFAULT_SCALE_DOWN = ScalingRules(
    stabilization_window_s=300.0,
    policies=(RateRule(RateUnit.PERCENT, 100, 15.0),),
)


@dataclass(frozen=True, slots=True)
class Behavior:
    """HorizontalPodAutoscalerBehavior; the defaults are the documented ones."""

    scale_up: ScalingRules = DEFAULT_SCALE_UP
    scale_down: ScalingRules = DEFAULT_SCALE_DOWN


DEFAULT_BEHAVIOR = Behavior()


def _within(ratio: float, tolerance: float) -> bool:
    return 1.0 - tolerance <= ratio <= 1.0 + tolerance


def _milli(value: float) -> int:
    """A quantity in milli-units, rounded up, as resource.Quantity.MilliValue() does."""
    return math.ceil(value * 1000 - 1e-9)


def pods_average_value_proposal(current: int, total: float, reporting: int, unready: int,
                                missing: int, target: float, tolerance: float) -> int | None:
    """Replicas for a Pods metric with an AverageValue target; None when no pod reported.

    `total` sums the metric over the `reporting` pods; `unready` pods are not ready yet,
    `missing` ones are ready but gave no metric.
    """
    if reporting == 0:
        return None
    total_milli = _milli(total)
    target_milli = _milli(target)
    ratio = (total_milli // reporting) / target_milli
    up_with_unready = unready > 0 and ratio > 1.0
    if not up_with_unready and missing == 0:
        if _within(ratio, tolerance):
            return current
        return math.ceil(ratio * reporting)
    count = reporting
    if missing:
        count += missing
        if ratio < 1.0:
            total_milli += missing * target_milli
    if up_with_unready:
        count += unready
    new_ratio = (total_milli // count) / target_milli
    if (_within(new_ratio, tolerance) or (ratio < 1.0 < new_ratio)
            or (ratio > 1.0 > new_ratio)):
        return current
    proposal = math.ceil(new_ratio * count)
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current
    return proposal


def external_average_value_proposal(replicas: int, total: float, target: float,
                                    tolerance: float) -> int:
    """Replicas for an External metric with an AverageValue target (the value split per pod)."""
    total_milli = _milli(total)
    target_milli = _milli(target)
    if replicas == 0:
        return math.ceil(total_milli / target_milli)
    ratio = total_milli / (target_milli * replicas)
    if _within(ratio, tolerance):
        return replicas
    return math.ceil(total_milli / target_milli)


def value_proposal(current: int, ready: int, value: float, target: float,
                   tolerance: float) -> int:
    """Replicas for an Object or External metric with a Value target."""
    ratio = _milli(value) / _milli(target)
    if current == 0:
        return math.ceil(ratio)
    if _within(ratio, tolerance):
        return current
    return math.ceil(ratio * ready)


def replicas_changed_within(events: tuple[TimedCount, ...], now: float, period_s: float) -> int:
    """Pods added (or removed) by the events of the last `period_s`."""
    return sum(event.workers for event in events if event.at > now - period_s)


def _period_starts(current: int, up_events: tuple[TimedCount, ...],
                   down_events: tuple[TimedCount, ...], rules: ScalingRules,
                   now: float) -> list[tuple[RateRule, int]]:
    """Each rule with the replica count at the start of its period (Kubernetes' reference)."""
    return [(rule, current - replicas_changed_within(up_events, now, rule.period_s)
             + replicas_changed_within(down_events, now, rule.period_s))
            for rule in rules.policies]


def scale_up_limit(current: int, up_events: tuple[TimedCount, ...],
                   down_events: tuple[TimedCount, ...], rules: ScalingRules, now: float) -> int:
    """Most replicas the scale-up rules allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals = [start + rule.value if rule.unit is RateUnit.PODS
                 else math.ceil(start * (1 + rule.value / 100))
                 for rule, start in _period_starts(current, up_events, down_events, rules, now)]
    return max(proposals) if rules.select_policy is SelectPolicy.MAX else min(proposals)


def scale_down_limit(current: int, up_events: tuple[TimedCount, ...],
                     down_events: tuple[TimedCount, ...], rules: ScalingRules,
                     now: float) -> int:
    """Fewest replicas the scale-down rules allow now."""
    if rules.select_policy is SelectPolicy.DISABLED:
        return current
    proposals = [start - rule.value if rule.unit is RateUnit.PODS
                 else int(start * (1 - rule.value / 100))
                 for rule, start in _period_starts(current, up_events, down_events, rules, now)]
    return min(proposals) if rules.select_policy is SelectPolicy.MAX else max(proposals)


def legacy_stabilise(history: tuple[TimedCount, ...], now: float, desired: int,
                     window_s: float) -> tuple[int, tuple[TimedCount, ...]]:
    """The highest proposal of the window (its start included), for an HPA without behavior."""
    kept = tuple(rec for rec in history if rec.at >= now - window_s)
    highest = max([desired, *(rec.workers for rec in kept)])
    return highest, (*kept, TimedCount(now, desired))


def legacy_limit(current: int, desired: int, min_replicas: int, max_replicas: int) -> int:
    """Bounds plus the fixed scale-up cap ``max(2 x current, 4)`` of an HPA without behavior."""
    ceiling = min(max_replicas, max(2 * current, 4))
    if desired < min_replicas:
        return min_replicas
    return min(desired, ceiling)


@dataclass(frozen=True, slots=True)
class HpaState:
    next_sync_at: float | None = None
    """When the next sync is due; None before the first one."""
    recommendations: tuple[TimedCount, ...] = ()
    scale_up_events: tuple[TimedCount, ...] = ()
    """Pods added, with when, for the rate rules' periods."""
    scale_down_events: tuple[TimedCount, ...] = ()
    """Pods removed, with when."""


@dataclass(frozen=True, slots=True)
class HpaPolicy:
    """The Kubernetes HPA on the queue depth per replica (an AverageValue target by default).

        make_policy("hpa", target=4)   # 4 queued requests per worker
    """

    target: float = 4.0
    """Target metric value: per replica for AverageValue, in total for Value."""
    metric: MetricKind = MetricKind.PODS_AVERAGE_VALUE
    include_inflight: bool = False
    """Count requests in flight as well as waiting ones."""
    tolerance: float = 0.1
    sync_period_s: float = 15.0
    min_replicas: int = 1
    max_replicas: int = UNBOUNDED
    behavior: Behavior | None = DEFAULT_BEHAVIOR
    """Rate limits and stabilisation; None selects the controller's path for HPAs without one."""
    downscale_stabilization_s: float = 300.0
    """`--horizontal-pod-autoscaler-downscale-stabilization`, used when behavior is None."""
    label: str = field(default="hpa", repr=False)
    """Name in logs and metrics; KEDA reuses this class under its own name."""

    def __post_init__(self) -> None:
        if self.target <= 0:
            raise ValueError(f"target must be positive, got {self.target}")
        if self.tolerance < 0 or self.sync_period_s <= 0:
            raise ValueError(f"need tolerance >= 0 and sync_period_s > 0, got "
                             f"{self.tolerance}, {self.sync_period_s}")
        if self.min_replicas < 0 or self.max_replicas < max(1, self.min_replicas):
            raise ValueError(f"need 0 <= min_replicas <= max_replicas, got "
                             f"{self.min_replicas}, {self.max_replicas}")

    @property
    def name(self) -> str:
        return self.label

    def initial_state(self) -> HpaState:
        return HpaState()

    def decide(self, signal: ScalingInput, state: HpaState) -> tuple[ScalingDecision, HpaState]:
        now = signal.now
        if state.next_sync_at is not None and now < state.next_sync_at:
            return hold(signal, f"{self.label}: next sync at {state.next_sync_at:g} s"), state
        current = signal.current_workers
        recommendations = state.recommendations
        if state.next_sync_at is None:
            recommendations = (TimedCount(now, current),)
        state = replace(state, next_sync_at=now + self.sync_period_s,
                        recommendations=recommendations)

        if current == 0 and self.min_replicas != 0:
            return hold(signal, f"{self.label}: scaling disabled at 0 replicas"), state
        if current > self.max_replicas:
            desired, reason = self.max_replicas, f"above max {self.max_replicas}"
        elif current < self.min_replicas:
            desired, reason = self.min_replicas, f"below min {self.min_replicas}"
        else:
            proposal = self._proposal(signal)
            if proposal is None:
                return hold(signal, f"{self.label}: no metric from any ready worker, "
                                    f"keeping {current}"), state
            desired, state = self._normalise(now, current, max(0, proposal), state)
            reason = self._explain(signal, proposal, desired)
        if desired != current:
            state = self._record_event(now, current, desired, state)
        return ScalingDecision(desired, f"{self.label}: {reason}"), state

    def metric_value(self, signal: ScalingInput) -> float:
        """The metric this HPA reads: queue depth, plus in-flight when configured."""
        return float(signal.queue_depth + (signal.inflight if self.include_inflight else 0))

    def _proposal(self, signal: ScalingInput) -> int | None:
        if not signal.metric_available:
            return None
        value = self.metric_value(signal)
        current = signal.current_workers
        if self.metric is MetricKind.PODS_AVERAGE_VALUE:
            return pods_average_value_proposal(
                current, value, reporting=signal.ready_workers - signal.unreported_workers,
                unready=signal.starting_workers, missing=signal.unreported_workers,
                target=self.target, tolerance=self.tolerance)
        if self.metric is MetricKind.EXTERNAL_AVERAGE_VALUE:
            return external_average_value_proposal(current, value, self.target, self.tolerance)
        return value_proposal(current, signal.ready_workers, value, self.target, self.tolerance)

    def _normalise(self, now: float, current: int, proposal: int, state: HpaState
                   ) -> tuple[int, HpaState]:
        if self.behavior is None:
            stabilised, recs = legacy_stabilise(state.recommendations, now, proposal,
                                                self.downscale_stabilization_s)
            desired = legacy_limit(current, stabilised, self.min_replicas, self.max_replicas)
            return desired, replace(state, recommendations=recs)
        up, down = self.behavior.scale_up, self.behavior.scale_down
        stabilised, recs = stabilise(state.recommendations, now, current, proposal,
                                     up.stabilization_window_s, down.stabilization_window_s)
        desired = stabilised
        if stabilised > current:
            limit = max(scale_up_limit(current, state.scale_up_events, state.scale_down_events,
                                       up, now), current)
            desired = min(stabilised, self.max_replicas, limit)
        elif stabilised < current:
            limit = min(scale_down_limit(current, state.scale_up_events,
                                         state.scale_down_events, down, now), current)
            desired = max(stabilised, self.min_replicas, limit)
        return desired, replace(state, recommendations=recs)

    def _record_event(self, now: float, current: int, desired: int, state: HpaState
                      ) -> HpaState:
        if self.behavior is None:
            return state
        if desired > current:
            horizon = now - self.behavior.scale_up.longest_period_s
            kept = tuple(e for e in state.scale_up_events if e.at >= horizon)
            return replace(state, scale_up_events=(*kept, TimedCount(now, desired - current)))
        horizon = now - self.behavior.scale_down.longest_period_s
        kept = tuple(e for e in state.scale_down_events if e.at >= horizon)
        return replace(state, scale_down_events=(*kept, TimedCount(now, current - desired)))

    def _explain(self, signal: ScalingInput, proposal: int, desired: int) -> str:
        current = signal.current_workers
        value = self.metric_value(signal)
        if self.metric is MetricKind.EXTERNAL_VALUE:
            text = f"value {value:g} vs target {self.target:g} on {signal.ready_workers} ready"
        else:
            text = f"queue {value:g} vs {self.target:g}/worker x {current}"
        text += f" -> {proposal}" if proposal != current else " within tolerance"
        if desired != proposal:
            text += f", stabilised/limited to {desired}"
        return text
