"""Building signals and driving policies tick by tick, for the policy tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ebb.autoscale.types import Policy, ScalingDecision, ScalingInput


def signal(now: float, workers: int, *, ready: int | None = None, starting: int = 0,
           queue: int = 0, inflight: int = 0, arrival: float = 0.0, completion: float = 0.0,
           service: float = 0.0, batch: float = 1.0, slo: float = 0.2,
           available: bool = True, unreported: int = 0) -> ScalingInput:
    """A signal; `ready` defaults to every worker that is not starting."""
    return ScalingInput(
        now=now, current_workers=workers,
        ready_workers=workers - starting if ready is None else ready,
        starting_workers=starting, queue_depth=queue, inflight=inflight,
        arrival_rate=arrival, completion_rate=completion, service_time_s=service,
        mean_batch_size=batch, slo_s=slo, metric_available=available,
        unreported_workers=unreported)


def replay(policy: Policy[Any], signals: Iterable[ScalingInput]) -> list[int]:
    """Desired workers for each signal in turn (the world is given, not driven)."""
    return [d.desired_workers for d in decisions(policy, signals)]


def decisions(policy: Policy[Any], signals: Iterable[ScalingInput]) -> list[ScalingDecision]:
    state = policy.initial_state()
    out = []
    for s in signals:
        decision, state = policy.decide(s, state)
        out.append(decision)
    return out


def follow(policy: Policy[Any], workers: int,
           ticks: Sequence[tuple[float, dict[str, Any]]]) -> list[int]:
    """Drive a world where each decision takes effect at once and every worker is ready.

    Each tick is ``(now, signal fields)``; the worker count is the previous decision.
    """
    state = policy.initial_state()
    out = []
    for now, fields in ticks:
        decision, state = policy.decide(signal(now, workers, **fields), state)
        workers = decision.desired_workers
        out.append(workers)
    return out
