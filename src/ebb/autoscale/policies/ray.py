"""Ray Serve's default autoscaling policy, re-implemented as a pure policy.

Follows Ray Serve's published algorithm and defaults: the "Advanced Ray Serve Autoscaling" and
AutoscalingConfig reference pages on docs.ray.io, and ray-project/ray,
python/ray/serve/autoscaling_policy.py and python/ray/serve/config.py. Written from reading
them; no code is copied. Ray counts consecutive 0.1 s control-loop decisions; here the same
delays are measured between timestamps, so the rule does not depend on the tick interval.

- Metric: requests ongoing at replicas plus queued at handles (here: in flight + waiting),
  averaged over ``look_back_period_s`` (30 s).
- Cold start: with no running replica, any request scales to ``max(ceil(1 x upscaling_factor),
  target)`` at once, skipping every delay.
- Otherwise ``desired = total / target_ongoing_requests`` (2), moved from the running count by
  the smoothing factors (``upscaling_factor`` / ``downscaling_factor``, 1.0), rounded up (and
  one lower if smoothing would stall a scale-down), then clamped to [min, max].
- Delays: a scale-up happens once every decision for ``upscale_delay_s`` (30 s) wanted more than
  the current target, a scale-down once every decision for ``downscale_delay_s`` (600 s) wanted
  less (``downscale_to_zero_delay_s`` for 1 -> 0, if set); a decision the other way or an equal
  one restarts the wait. Scale-downs other than 1 -> 0 stop at one replica.

`max_replicas` defaults to unbounded here (Ray's own default of 1 would pin the count): set the
deployment's bounds with the shared limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ebb.autoscale.types import ScalingDecision, ScalingInput, hold

UNBOUNDED = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    value: float


@dataclass(frozen=True, slots=True)
class RayState:
    samples: tuple[Sample, ...] = ()
    """Metric samples of the look-back period, oldest first."""
    streak: int = 0
    """Direction of the running decision streak: 1 up, -1 down, 0 none."""
    streak_since: float = 0.0
    """When the running streak's first decision was made."""


@dataclass(frozen=True, slots=True)
class RayPolicy:
    """Ray Serve's `replica_queue_length_autoscaling_policy` with its default config.

        make_policy("ray", target_ongoing_requests=4, min_replicas=0)
    """

    target_ongoing_requests: float = 2.0
    upscale_delay_s: float = 30.0
    downscale_delay_s: float = 600.0
    downscale_to_zero_delay_s: float | None = None
    upscaling_factor: float = 1.0
    downscaling_factor: float = 1.0
    look_back_period_s: float = 30.0
    min_replicas: int = 1
    max_replicas: int = UNBOUNDED

    def __post_init__(self) -> None:
        positive = {
            "target_ongoing_requests": self.target_ongoing_requests,
            "upscaling_factor": self.upscaling_factor,
            "downscaling_factor": self.downscaling_factor,
            "look_back_period_s": self.look_back_period_s,
        }
        bad = {name: value for name, value in positive.items() if value <= 0}
        if bad:
            raise ValueError(f"Ray settings must be positive: {bad}")
        if self.upscale_delay_s < 0 or self.downscale_delay_s < 0:
            raise ValueError("delays must not be negative")
        if self.min_replicas < 0 or self.max_replicas < max(1, self.min_replicas):
            raise ValueError(f"need 0 <= min_replicas <= max_replicas, got "
                             f"{self.min_replicas}, {self.max_replicas}")

    @property
    def name(self) -> str:
        return "ray"

    def initial_state(self) -> RayState:
        return RayState()

    def decide(self, signal: ScalingInput, state: RayState) -> tuple[ScalingDecision, RayState]:
        if not signal.metric_available:
            return hold(signal, "ray: no metric this tick"), state
        now = signal.now
        kept = tuple(s for s in state.samples if s.at > now - self.look_back_period_s)
        samples = (*kept, Sample(now, float(signal.concurrency)))
        total = sum(s.value for s in samples) / len(samples)
        target = signal.current_workers
        running = signal.ready_workers

        if running == 0:
            cold = RayState(samples, state.streak, state.streak_since)
            if total > 0:
                wake = max(math.ceil(1 * self.upscaling_factor), target)
                return ScalingDecision(
                    wake, f"ray: cold start, {total:.2f} requests and no running replica "
                          f"-> {wake}"), cold
            return hold(signal, "ray: no running replica and no requests"), cold

        wanted = self.desired_replicas(total, running)
        reason = (f"ray: {total:.2f} requests / {self.target_ongoing_requests:g} per replica "
                  f"on {running} running -> {wanted}")
        if wanted > target:
            since = state.streak_since if state.streak == 1 else now
            if now - since >= self.upscale_delay_s:
                return ScalingDecision(wanted, reason), RayState(samples, 0, now)
            return (ScalingDecision(target, f"{reason}; upscale delay {now - since:g}/"
                                            f"{self.upscale_delay_s:g} s"),
                    RayState(samples, 1, since))
        if wanted < target:
            since = state.streak_since if state.streak == -1 else now
            delay = self.downscale_delay_s
            if target == 1 and self.downscale_to_zero_delay_s is not None:
                delay = self.downscale_to_zero_delay_s
            if target != 1:
                wanted = max(1, wanted)
            if now - since >= delay:
                return (ScalingDecision(wanted, f"{reason} after {delay:g} s"),
                        RayState(samples, 0, now))
            return (ScalingDecision(target, f"{reason}; downscale delay {now - since:g}/"
                                            f"{delay:g} s"),
                    RayState(samples, -1, since))
        return ScalingDecision(target, reason), RayState(samples, 0, now)

    def desired_replicas(self, total: float, running: int) -> int:
        """Replicas for `total` requests, smoothed from `running`, within [min, max]."""
        desired = total / self.target_ongoing_requests
        delta = desired - running
        factor = self.upscaling_factor if delta > 0 else self.downscaling_factor
        scaled = math.ceil(running + factor * delta)
        if math.ceil(desired) < running and scaled == running:
            scaled -= 1
        return max(self.min_replicas, min(self.max_replicas, scaled))
