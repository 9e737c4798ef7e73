"""The scaling seam: what a policy sees (`ScalingInput`), what it says (`ScalingDecision`),
and the one-method contract every policy keeps (`Policy`).

A policy is pure: `decide(signal, state) -> (decision, new_state)`. Time arrives as
`signal.now`, state is a frozen value the caller keeps and hands back, so the live controller
and the simulator run the very same code, and a test can replay a table of ticks.

    policy = make_policy("ebb")
    state = policy.initial_state()
    decision, state = policy.decide(signal, state)   # once per controller tick
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class ScalingInput:
    """One tick's signals, the same whether read in-process, from `/metrics` or from Prometheus.

    `unreported_workers` is an addition to the shared seam, needed only for the Kubernetes
    HPA's missing-metric rule: ready workers (pods) whose signal could not be read this tick.
    Sources that read one gateway in-process leave it at 0.
    """

    now: float
    """Seconds, monotonic or virtual; policies compare timestamps and never read a clock."""
    current_workers: int
    """Workers that exist (starting + ready), not counting draining ones."""
    ready_workers: int
    starting_workers: int
    queue_depth: int
    """Requests waiting, not yet given to a worker."""
    inflight: int
    """Requests being processed by workers."""
    arrival_rate: float
    """Requests per second arriving, over the recent window."""
    completion_rate: float
    """Requests per second answered, over the recent window."""
    service_time_s: float
    """Measured mean wall time of one batch on one worker; 0 when not measured yet."""
    mean_batch_size: float
    """Measured mean requests per batch (at least 1; 1 when unknown)."""
    slo_s: float
    """The latency objective the policy keeps."""
    metric_available: bool = True
    """False when the signal source failed this tick; the other fields are then stale."""
    unreported_workers: int = 0
    """Ready workers whose signal is missing this tick; queue_depth and inflight sum the rest."""

    def __post_init__(self) -> None:
        counts = {
            "current_workers": self.current_workers,
            "ready_workers": self.ready_workers,
            "starting_workers": self.starting_workers,
            "queue_depth": self.queue_depth,
            "inflight": self.inflight,
            "unreported_workers": self.unreported_workers,
        }
        negative = {name: value for name, value in counts.items() if value < 0}
        if negative:
            raise ValueError(f"signal counts must not be negative: {negative}")
        if self.slo_s <= 0 or self.service_time_s < 0:
            raise ValueError(f"need slo_s > 0 and service_time_s >= 0, got "
                             f"{self.slo_s}, {self.service_time_s}")
        if self.unreported_workers > self.ready_workers:
            raise ValueError(
                f"unreported_workers ({self.unreported_workers}) exceeds "
                f"ready_workers ({self.ready_workers})")

    @classmethod
    def without_signal(cls, now: float, ready: int, starting: int, slo_s: float
                       ) -> ScalingInput:
        """Nothing read yet (or ever): the worker counts the host knows, no demand, marked
        unavailable so that policies hold rather than act on zeros."""
        return cls(now, ready + starting, ready, starting, 0, 0, 0.0, 0.0, 0.0, 1.0, slo_s,
                   metric_available=False)

    def stale(self, now: float) -> ScalingInput:
        """This reading again at ``now``, marked unavailable (the source failed this tick)."""
        return replace(self, now=now, metric_available=False)

    def with_workers(self, now: float, ready: int, starting: int) -> ScalingInput:
        """This reading at ``now`` with the worker counts the host knows first-hand (a
        simulator or actuator sees its own workers without any reporting lag)."""
        return replace(self, now=now, current_workers=ready + starting, ready_workers=ready,
                       starting_workers=starting)

    @property
    def concurrency(self) -> int:
        """Requests in the system (waiting + in flight): what Knative and Ray Serve scale on."""
        return self.queue_depth + self.inflight


@dataclass(frozen=True, slots=True)
class ScalingDecision:
    """How many workers should exist, and why, in words a log reader understands."""

    desired_workers: int
    reason: str
    """Human readable, e.g. "queue 45 > 4/worker x 10 -> 12"."""

    def __post_init__(self) -> None:
        if self.desired_workers < 0:
            raise ValueError(f"desired_workers must not be negative, got {self.desired_workers}")


class Policy(Protocol[S]):
    """A scaling rule. `S` is its frozen state type; the caller stores it between ticks.

    A policy that chooses not to act this tick (between sync periods, inside a delay) returns
    `signal.current_workers`: "no change" is always expressible without extra state.
    """

    @property
    def name(self) -> str:
        """Short, stable identifier used in logs and metrics ("ebb", "hpa", ...)."""
        ...

    def initial_state(self) -> S:
        """The state before the first tick."""
        ...

    def decide(self, signal: ScalingInput, state: S) -> tuple[ScalingDecision, S]:
        """The decision for this tick and the state to pass to the next one."""
        ...


def hold(signal: ScalingInput, reason: str) -> ScalingDecision:
    """A decision that keeps the current worker count."""
    return ScalingDecision(signal.current_workers, reason)
