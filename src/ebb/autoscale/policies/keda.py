"""KEDA with its Prometheus scaler, re-implemented as a pure policy.

Follows KEDA's published behaviour and defaults: the ScaledObject spec and Prometheus scaler
pages on keda.sh, and kedacore/keda (pkg/scaling/executor/scale_scaledobjects.go,
pkg/scalers/prometheus_scaler.go). Written from reading them; no code is copied.

KEDA splits the work in two:

- KEDA's own loop, every ``pollingInterval`` (30 s), decides activation only. The trigger is
  active when the query value is above ``activationThreshold`` (0). Active at 0 replicas:
  scale to ``max(minReplicaCount, 1)``. Active otherwise: remember the time (lastActiveTime).
  Inactive with replicas > 0 and ``minReplicaCount`` 0: scale to 0 once ``cooldownPeriod``
  (300 s) has passed since the last active check (or, never active, since creation plus
  ``initialCooldownPeriod``, 0 s). A failed query with no fallback changes nothing.
- Between 1 and ``maxReplicaCount`` (100) an HPA that KEDA creates does the scaling: the query
  value is an External metric with an AverageValue target of ``threshold``, i.e.
  ``ceil(value / threshold)`` with the HPA's tolerance, sync period, stabilisation and limits.
  KEDA creates it without a ``behavior`` unless one is configured, so by default the HPA's
  older path applies (see `ebb.autoscale.policies.hpa`). That HPA is reused here, not copied.

The query value here is the queue depth (plus in-flight with ``include_inflight``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ebb.autoscale.policies.hpa import Behavior, HpaPolicy, HpaState, MetricKind
from ebb.autoscale.types import ScalingDecision, ScalingInput


@dataclass(frozen=True, slots=True)
class KedaState:
    hpa: HpaState = field(default_factory=HpaState)
    created_at: float | None = None
    """The first tick: KEDA's ScaledObject creation."""
    next_poll_at: float | None = None
    last_active_at: float | None = None


@dataclass(frozen=True, slots=True)
class KedaPolicy:
    """KEDA's ScaledObject with one Prometheus trigger on the queue depth.

        make_policy("keda", threshold=4, cooldown_period_s=120)
    """

    threshold: float = 4.0
    """Target query value per replica (the HPA's AverageValue)."""
    activation_threshold: float = 0.0
    polling_interval_s: float = 30.0
    cooldown_period_s: float = 300.0
    initial_cooldown_period_s: float = 0.0
    min_replica_count: int = 0
    max_replica_count: int = 100
    include_inflight: bool = False
    tolerance: float = 0.1
    hpa_sync_period_s: float = 15.0
    hpa_behavior: Behavior | None = None
    """`advanced.horizontalPodAutoscalerConfig.behavior`; None: the HPA gets none."""
    hpa: HpaPolicy = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.polling_interval_s <= 0 or self.cooldown_period_s < 0:
            raise ValueError(f"need polling_interval_s > 0 and cooldown_period_s >= 0, got "
                             f"{self.polling_interval_s}, {self.cooldown_period_s}")
        if self.min_replica_count < 0 or self.max_replica_count < max(1, self.min_replica_count):
            raise ValueError(f"need 0 <= min_replica_count <= max_replica_count, got "
                             f"{self.min_replica_count}, {self.max_replica_count}")
        hpa = HpaPolicy(
            target=self.threshold,
            metric=MetricKind.EXTERNAL_AVERAGE_VALUE,
            include_inflight=self.include_inflight,
            tolerance=self.tolerance,
            sync_period_s=self.hpa_sync_period_s,
            min_replicas=max(1, self.min_replica_count),
            max_replicas=self.max_replica_count,
            behavior=self.hpa_behavior,
            label="keda/hpa",
        )
        object.__setattr__(self, "hpa", hpa)

    @property
    def name(self) -> str:
        return "keda"

    def initial_state(self) -> KedaState:
        return KedaState()

    def decide(self, signal: ScalingInput, state: KedaState
               ) -> tuple[ScalingDecision, KedaState]:
        now = signal.now
        if state.created_at is None:
            state = replace(state, created_at=now)
        if state.next_poll_at is None or now >= state.next_poll_at:
            state = replace(state, next_poll_at=now + self.polling_interval_s)
            decision, state = self._poll(signal, state)
            if decision is not None:
                return decision, state
        decision, hpa_state = self.hpa.decide(signal, state.hpa)
        return decision, replace(state, hpa=hpa_state)

    def _poll(self, signal: ScalingInput, state: KedaState
              ) -> tuple[ScalingDecision | None, KedaState]:
        """KEDA's activation check; a decision only when KEDA itself scales."""
        now = signal.now
        current = signal.current_workers
        value = self.hpa.metric_value(signal)
        if not signal.metric_available:
            return None, state
        if value > self.activation_threshold:
            state = replace(state, last_active_at=now)
            if current == 0:
                wake = max(1, self.min_replica_count)
                return ScalingDecision(
                    wake, f"keda: {value:g} > activation {self.activation_threshold:g}, "
                          f"activating 0 -> {wake}"), state
            return None, state
        if current > 0 and self.min_replica_count == 0:
            if state.last_active_at is None:
                created = now if state.created_at is None else state.created_at
                cooled = now > created + self.initial_cooldown_period_s
                since = "creation"
            else:
                cooled = now > state.last_active_at + self.cooldown_period_s
                since = f"last active at {state.last_active_at:g} s"
            if cooled:
                return ScalingDecision(
                    0, f"keda: inactive ({value:g} <= {self.activation_threshold:g}), cooldown "
                       f"{self.cooldown_period_s:g} s since {since} over -> 0"), state
            return None, state
        if current < self.min_replica_count:
            floor = self.min_replica_count
            return ScalingDecision(floor, f"keda: below minReplicaCount -> {floor}"), state
        return None, state
