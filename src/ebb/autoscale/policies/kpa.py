"""Knative's pod autoscaler (KPA), re-implemented as a pure policy.

Follows Knative Serving's published algorithm and defaults: the autoscaling pages on knative.dev
(concurrency targets, stable and panic windows, scale bounds, scale to zero) and
knative/serving, pkg/autoscaler/scaling/autoscaler.go (the decider), pkg/autoscaler/aggregation
(windowed bucket averages) and pkg/reconciler/autoscaling/kpa/scaler.go (scale to zero).
Written from reading them; no code is copied.

Every call records the observed concurrency (waiting + in flight) into 1 s buckets. Every 2 s
(the decider tick, or at once when a request arrives at zero replicas, as the activator pokes):

- ``target = min(containerConcurrency or 100, 100) x 70 %`` requests per pod.
- ``stable = mean of the last 60 s of buckets``, ``panic = mean of the last 6 s`` (10 % of
  the stable window); a window that began recently averages only the buckets since data began.
- ``ready = max(1, ready pods)``; proposals ``ceil(stable / target)`` and ``ceil(panic / target)``,
  each kept within ``[floor(ready / 2), ceil(1000 x ready)]`` (max scale-down rate 2, max
  scale-up rate 1000).
- Panic starts when ``ceil(panic / target) / ready >= 200 %``; each tick over the threshold
  extends it; it ends at the first tick under the threshold more than one stable window after
  the last tick over it. In panic the count is the larger of both proposals and never goes down.
- Zero: when the proposal is 0 (a stable window with no requests), the revision is held at one
  pod for the 30 s scale-to-zero grace period, then goes to 0.

Not modelled: activation scale, min/initial scale annotations (use the shared limits), the
excess-burst-capacity routing decision, RPS as the metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ebb.autoscale.types import ScalingDecision, ScalingInput, hold

MINIMUM_TARGET = 0.01
"""Knative never lets the per-pod target reach zero."""


@dataclass(frozen=True, slots=True)
class ConcurrencyBucket:
    """The samples of concurrency that fell into one bucket (one second by default)."""

    index: int
    total: float
    samples: int

    @property
    def mean(self) -> float:
        return self.total / self.samples


@dataclass(frozen=True, slots=True)
class KpaState:
    buckets: tuple[ConcurrencyBucket, ...] = ()
    """Oldest first, at most one stable window of them."""
    first_index: int | None = None
    """Bucket of the first sample since data last started (Knative's firstWrite)."""
    next_tick_at: float | None = None
    panic_time: float | None = None
    """Last decision tick that was over the panic threshold; None: not in panic."""
    max_panic_pods: int = 0
    """Highest count decided during this panic; the count never goes below it while in panic."""
    inactive_since: float | None = None
    """When the proposal first dropped to zero; None while it is not zero."""

    @property
    def panicking(self) -> bool:
        return self.panic_time is not None


@dataclass(frozen=True, slots=True)
class KpaPolicy:
    """Knative's KPA on concurrency (requests waiting or in flight).

        make_policy("kpa", container_concurrency=4)   # target 2.8 requests per worker
    """

    container_concurrency: int = 0
    """Hard per-pod limit; 0: none, the soft default target applies."""
    target_default: float = 100.0
    """`container-concurrency-target-default`."""
    target_utilisation: float = 0.7
    """`container-concurrency-target-percentage`, as a fraction."""
    stable_window_s: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold_percentage: float = 200.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    tick_interval_s: float = 2.0
    bucket_s: float = 1.0
    scale_to_zero_grace_s: float = 30.0
    enable_scale_to_zero: bool = True

    def __post_init__(self) -> None:
        positive = {
            "target_default": self.target_default,
            "target_utilisation": self.target_utilisation,
            "stable_window_s": self.stable_window_s,
            "panic_window_percentage": self.panic_window_percentage,
            "panic_threshold_percentage": self.panic_threshold_percentage,
            "max_scale_up_rate": self.max_scale_up_rate,
            "max_scale_down_rate": self.max_scale_down_rate,
            "tick_interval_s": self.tick_interval_s,
            "bucket_s": self.bucket_s,
        }
        bad = {name: value for name, value in positive.items() if value <= 0}
        if bad or self.container_concurrency < 0 or self.scale_to_zero_grace_s < 0:
            raise ValueError(f"KPA settings out of range: {bad or self}")

    @property
    def name(self) -> str:
        return "kpa"

    @property
    def target(self) -> float:
        """Concurrency per pod the KPA aims for."""
        target = self.target_default
        if self.container_concurrency > 0:
            target = min(target, float(self.container_concurrency))
        return max(MINIMUM_TARGET, target * self.target_utilisation)

    @property
    def stable_buckets(self) -> int:
        return math.ceil(self.stable_window_s / self.bucket_s)

    @property
    def panic_buckets(self) -> int:
        return math.ceil(self.stable_window_s * self.panic_window_percentage / 100
                         / self.bucket_s)

    def initial_state(self) -> KpaState:
        return KpaState()

    def decide(self, signal: ScalingInput, state: KpaState) -> tuple[ScalingDecision, KpaState]:
        if not signal.metric_available:
            return hold(signal, "kpa: no metric this tick"), state
        now = signal.now
        state = self.record(state, now, float(signal.concurrency))
        poked = signal.current_workers == 0 and signal.concurrency > 0
        if not poked and state.next_tick_at is not None and now < state.next_tick_at:
            return hold(signal, f"kpa: next tick at {state.next_tick_at:g} s"), state
        state = replace(state, next_tick_at=now + self.tick_interval_s)
        index = self._index(now)
        stable = window_average(state, index, self.stable_buckets)
        panic = window_average(state, index, self.panic_buckets)

        ready = float(max(1, signal.ready_workers))
        max_up = math.ceil(self.max_scale_up_rate * ready)
        max_down = math.floor(ready / self.max_scale_down_rate)
        stable_pods = math.ceil(stable / self.target)
        panic_pods = math.ceil(panic / self.target)
        want_stable = int(min(max(stable_pods, max_down), max_up))
        want_panic = int(min(max(panic_pods, max_down), max_up))

        over = panic_pods / ready >= self.panic_threshold_percentage / 100
        panic_time, max_panic = state.panic_time, state.max_panic_pods
        if over:
            panic_time = now
        elif panic_time is not None and now > panic_time + self.stable_window_s:
            panic_time, max_panic = None, 0

        if panic_time is not None:
            max_panic = max(max_panic, want_stable, want_panic)
            desired = max_panic
            mode = f"panic (panic {panic:.2f} -> {panic_pods} over {ready:g} ready)"
        else:
            desired = want_stable
            mode = "stable"
        reason = (f"kpa: {mode}; stable {stable:.2f} / target {self.target:g} -> "
                  f"{want_stable}")
        state = replace(state, panic_time=panic_time, max_panic_pods=max_panic)

        if desired > 0:
            return ScalingDecision(desired, f"{reason} -> {desired}"), replace(
                state, inactive_since=None)
        if not self.enable_scale_to_zero:
            return ScalingDecision(1, f"{reason}; scale to zero disabled -> 1"), state
        inactive_since = now if state.inactive_since is None else state.inactive_since
        state = replace(state, inactive_since=inactive_since)
        if signal.current_workers > 0 and now - inactive_since < self.scale_to_zero_grace_s:
            return ScalingDecision(
                1, f"{reason}; inactive {now - inactive_since:g} s < grace "
                   f"{self.scale_to_zero_grace_s:g} s -> 1"), state
        return ScalingDecision(0, f"{reason}; inactive past grace -> 0"), state

    def record(self, state: KpaState, now: float, concurrency: float) -> KpaState:
        """Add one concurrency sample to its bucket; buckets older than the stable window go."""
        index = self._index(now)
        buckets = state.buckets
        first = state.first_index
        if buckets and index < buckets[-1].index:
            return state
        if not buckets or index - buckets[-1].index >= self.stable_buckets:
            buckets, first = (), index
        if buckets and buckets[-1].index == index:
            last = buckets[-1]
            buckets = (*buckets[:-1],
                       ConcurrencyBucket(index, last.total + concurrency, last.samples + 1))
        else:
            buckets = (*buckets, ConcurrencyBucket(index, concurrency, 1))
        oldest = index - self.stable_buckets
        buckets = tuple(b for b in buckets if b.index > oldest)
        return replace(state, buckets=buckets, first_index=first)

    def _index(self, now: float) -> int:
        return math.floor(now / self.bucket_s)


def window_average(state: KpaState, index: int, window: int) -> float:
    """Mean bucket value over the last `window` buckets up to `index`.

    Like Knative's averages: gaps count as zero, a window whose data began recently is averaged
    over the buckets since then, and a window with no data at all is zero.
    """
    buckets = state.buckets
    if not buckets or index - buckets[-1].index >= window:
        return 0.0
    last = buckets[-1].index
    first = state.first_index if state.first_index is not None else buckets[0].index
    for newer, older in zip(reversed(buckets), reversed(buckets[:-1]), strict=False):
        if newer.index - older.index >= window:
            first = newer.index
            break
    total = sum(b.mean for b in buckets if b.index > index - window)
    valid = min(last - first + 1, window - (index - last))
    return total / valid
