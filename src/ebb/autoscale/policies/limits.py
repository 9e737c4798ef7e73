"""Limits that apply to any policy alike: bounds, stabilisation windows, max step, scale-to-zero.

Each limit is itself a `Policy` wrapping an inner one, so Ebb and the baselines get exactly the
same guard rails and a comparison between them measures the rule, not the rails. Wrappers keep
their own state beside the inner state; time is compared as timestamps, never as tick counts.

    policy = with_limits(make_policy("kpa"), Limits(min_workers=0, max_workers=8))

Order inside `with_limits`, innermost first: stabilisation, max step, scale-to-zero, bounds. The
bounds come last so that min/max hold whatever the other rails did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ebb.autoscale.types import Policy, ScalingDecision, ScalingInput

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class TimedCount:
    """A worker count observed or recommended at a moment."""

    at: float
    workers: int


def stabilise(history: tuple[TimedCount, ...], now: float, current: int, desired: int,
              up_window_s: float, down_window_s: float) -> tuple[int, tuple[TimedCount, ...]]:
    """Damp a recommendation with the recommendations of the recent past.

    A scale-up goes no higher than the lowest recommendation of the last `up_window_s`, a
    scale-down no lower than the highest of the last `down_window_s` (the Kubernetes HPA rule,
    used by the HPA itself and by `Stabilised`). Returns the stabilised count and the history to
    keep, the raw `desired` appended.
    """
    up = desired
    down = desired
    for rec in history:
        if rec.at > now - up_window_s:
            up = min(up, rec.workers)
        if rec.at > now - down_window_s:
            down = max(down, rec.workers)
    workers = min(max(current, up), down)
    horizon = now - max(up_window_s, down_window_s)
    kept = tuple(rec for rec in history if rec.at > horizon)
    return workers, (*kept, TimedCount(now, desired))


def check_bounds(min_workers: int, max_workers: int) -> None:
    """The one bounds rule every host shares: 0 <= min <= max and max >= 1."""
    if min_workers < 0 or max_workers < max(1, min_workers):
        raise ValueError(f"need 0 <= min_workers <= max_workers and max_workers >= 1, "
                         f"got min {min_workers}, max {max_workers}")


@dataclass(frozen=True)
class _PassThrough(Generic[S]):
    """A wrapper that keeps no state of its own: the inner policy's name and state are its own."""

    inner: Policy[S]

    @property
    def name(self) -> str:
        return self.inner.name

    def initial_state(self) -> S:
        return self.inner.initial_state()


@dataclass(frozen=True)
class Bounded(_PassThrough[S]):
    """Keep any policy's decision within [min_workers, max_workers]."""

    min_workers: int
    max_workers: int

    def __post_init__(self) -> None:
        check_bounds(self.min_workers, self.max_workers)

    def decide(self, signal: ScalingInput, state: S) -> tuple[ScalingDecision, S]:
        decision, state = self.inner.decide(signal, state)
        wanted = decision.desired_workers
        if wanted < self.min_workers:
            return ScalingDecision(self.min_workers,
                                   f"{decision.reason}; raised to min {self.min_workers}"), state
        if wanted > self.max_workers:
            return ScalingDecision(self.max_workers,
                                   f"{decision.reason}; capped at max {self.max_workers}"), state
        return decision, state


@dataclass(frozen=True)
class StabilisedState(Generic[S]):
    inner: S
    history: tuple[TimedCount, ...] = ()


@dataclass(frozen=True)
class Stabilised(Generic[S]):
    """Scale up only to what every recommendation of the last `up_window_s` supports, and down
    only to what every recommendation of the last `down_window_s` allows.

    The first tick records the current count as a recommendation (as the HPA does), so a
    scale-down right after start waits a full down window.
    """

    inner: Policy[S]
    up_window_s: float = 0.0
    down_window_s: float = 0.0

    def __post_init__(self) -> None:
        if self.up_window_s < 0 or self.down_window_s < 0:
            raise ValueError(f"stabilisation windows must not be negative, got up "
                             f"{self.up_window_s} s, down {self.down_window_s} s")

    @property
    def name(self) -> str:
        return self.inner.name

    def initial_state(self) -> StabilisedState[S]:
        return StabilisedState(self.inner.initial_state())

    def decide(self, signal: ScalingInput, state: StabilisedState[S]
               ) -> tuple[ScalingDecision, StabilisedState[S]]:
        decision, inner = self.inner.decide(signal, state.inner)
        history = state.history or (TimedCount(signal.now, signal.current_workers),)
        workers, history = stabilise(history, signal.now, signal.current_workers,
                                     decision.desired_workers, self.up_window_s,
                                     self.down_window_s)
        if workers != decision.desired_workers:
            direction = "up" if decision.desired_workers > signal.current_workers else "down"
            window = self.up_window_s if direction == "up" else self.down_window_s
            decision = ScalingDecision(
                workers, f"{decision.reason}; {direction}-stabilised over {window:g} s "
                         f"-> {workers}")
        return decision, StabilisedState(inner, history)


@dataclass(frozen=True)
class StepLimited(_PassThrough[S]):
    """Change the worker count by at most `max_up` / `max_down` per decision."""

    max_up: int | None = None
    max_down: int | None = None

    def __post_init__(self) -> None:
        for label, step in (("max_up", self.max_up), ("max_down", self.max_down)):
            if step is not None and step < 1:
                raise ValueError(f"{label} must be at least 1 (or None), got {step}")

    def decide(self, signal: ScalingInput, state: S) -> tuple[ScalingDecision, S]:
        decision, state = self.inner.decide(signal, state)
        current = signal.current_workers
        wanted = decision.desired_workers
        if self.max_up is not None and wanted > current + self.max_up:
            limited = current + self.max_up
        elif self.max_down is not None and wanted < current - self.max_down:
            limited = current - self.max_down
        else:
            return decision, state
        return ScalingDecision(limited, f"{decision.reason}; step-limited to {limited}"), state


@dataclass(frozen=True)
class IdleState(Generic[S]):
    inner: S
    busy_at: float | None = None
    """Last tick that saw demand; None: none seen yet, idle since forever."""


@dataclass(frozen=True)
class ScaleToZero(Generic[S]):
    """Go to zero workers after `idle_s` without demand, and wake from zero on any demand.

    Demand is a request waiting or in flight, or a non-zero arrival rate. Before the idle time is
    up, an inner wish for zero is held at one worker; after it, zero wins whatever the inner
    policy says (this is how KEDA adds scale-to-zero to the HPA). A tick whose signal failed
    changes nothing here.
    """

    inner: Policy[S]
    idle_s: float

    def __post_init__(self) -> None:
        if self.idle_s < 0:
            raise ValueError(f"idle_s must not be negative, got {self.idle_s}")

    @property
    def name(self) -> str:
        return self.inner.name

    def initial_state(self) -> IdleState[S]:
        return IdleState(self.inner.initial_state())

    def decide(self, signal: ScalingInput, state: IdleState[S]
               ) -> tuple[ScalingDecision, IdleState[S]]:
        decision, inner = self.inner.decide(signal, state.inner)
        if not signal.metric_available:
            return decision, IdleState(inner, state.busy_at)
        busy = signal.concurrency > 0 or signal.arrival_rate > 0
        busy_at = signal.now if busy else state.busy_at
        wanted = decision.desired_workers
        if busy:
            if wanted == 0:
                decision = ScalingDecision(1, f"{decision.reason}; woken by demand -> 1")
        elif busy_at is None or signal.now - busy_at >= self.idle_s:
            if wanted != 0:
                idle_for = "ever" if busy_at is None else f"{signal.now - busy_at:g} s"
                decision = ScalingDecision(0, f"{decision.reason}; idle for {idle_for} -> 0")
        elif wanted == 0:
            decision = ScalingDecision(
                1, f"{decision.reason}; idle {signal.now - busy_at:g} s < {self.idle_s:g} s, "
                   f"keeping 1")
        return decision, IdleState(inner, busy_at)


@dataclass(frozen=True, slots=True)
class Limits:
    """The guard rails a deployment puts around whichever policy it runs."""

    min_workers: int
    max_workers: int
    scale_up_window_s: float = 0.0
    """Scale up only as far as every recommendation of this window supports; 0: at once."""
    scale_down_window_s: float = 0.0
    """Scale down only as far as every recommendation of this window allows; 0: at once."""
    max_step_up: int | None = None
    """Most workers added by one decision; None: no limit."""
    max_step_down: int | None = None
    """Most workers removed by one decision; None: no limit."""
    scale_to_zero_after_s: float | None = None
    """Idle time after which the count goes to zero (then `min_workers` still applies);
    None: leave zero to the policy and `min_workers`."""

    def __post_init__(self) -> None:
        check_bounds(self.min_workers, self.max_workers)


def with_limits(policy: Policy[Any], limits: Limits) -> Policy[Any]:
    """Wrap `policy` in the rails `limits` asks for; rails left at their defaults are skipped."""
    wrapped: Policy[Any] = policy
    if limits.scale_up_window_s > 0 or limits.scale_down_window_s > 0:
        wrapped = Stabilised(wrapped, limits.scale_up_window_s, limits.scale_down_window_s)
    if limits.max_step_up is not None or limits.max_step_down is not None:
        wrapped = StepLimited(wrapped, limits.max_step_up, limits.max_step_down)
    if limits.scale_to_zero_after_s is not None and not math.isinf(limits.scale_to_zero_after_s):
        wrapped = ScaleToZero(wrapped, limits.scale_to_zero_after_s)
    return Bounded(wrapped, limits.min_workers, limits.max_workers)
