"""Ebb's own policy: size the pool with queueing arithmetic instead of a fixed threshold.

By default (``sizing="erlang"``) the arrival rate is turned into workers with the Erlang C
formula: the fewest workers c for which an M/M/c queue keeps the share of requests waiting longer
than the SLO budget (SLO minus one service time) under ``miss_fraction`` (1 %), planned at no more
than ``max_utilisation`` (95 %). That sizes a pool for the latency objective itself, so large
pools run hot and small ones keep the headroom that randomness needs, instead of one fixed
utilisation for every size. ``sizing="utilisation"`` uses the simpler rule below for n_rate.

With the measured service rate of one worker (batch aware)::

    mu        = mean_batch_size / service_time_s           requests/s one busy worker answers
    T         = drain_fraction x slo_s                     time allowed to clear the backlog
    n_rate    = arrival_rate / (mu x target_utilisation)   workers for the arrivals, w/ headroom
    n_backlog = queue_depth / (mu x T)                     workers that clear the queue within T
    needed    = ceil(max(n_rate, n_backlog))
              = ceil(n_rate + max(0, n_backlog - n_rate))  (the rate, plus extra for the backlog)

The queue is FIFO, so the requests waiting now are served before any later arrival: N workers
clear them within T exactly when ``N x mu x T >= queue_depth``, however many arrive meanwhile,
and the rate term (rho < 1) keeps the queue from growing again. A small queue that the pool
already clears within T orders nothing, so steady load does not flap on queue noise.

- Bursts: when ``needed`` exceeds the workers that exist (ready + starting), the decision is
  ``needed`` at once, with no delay.
- Cold starts: starting workers count as capacity already ordered. While any are starting, the
  queue that builds up because they are not ready yet is not ordered for twice: the backlog term
  uses at most the queue depth seen when the last scale-up was decided. A real rise in the
  arrival rate still orders more.
- Release: a count ``keep = ceil(max(n_rate, n_backlog) x (1 + scale_in_margin))`` is recorded
  every tick; the pool shrinks to the highest ``keep`` of the last ``scale_in_delay_s`` once that
  is below the current count. Scale-in thus needs demand to stay low for the whole delay, goes
  down step by step as demand falls, and the margin keeps a steady load from flapping between
  two counts. The first tick records the current count, so nothing is released earlier than one
  delay after start.
- No service time measured yet (0): ``needed = ceil((queue_depth + inflight) /
  fallback_requests_per_worker)``, with the same cold-start and release rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ebb.autoscale.policies.limits import TimedCount
from ebb.autoscale.types import ScalingDecision, ScalingInput, hold

_EPSILON = 1e-9
"""Keeps ceil() from adding a worker for float noise (4.000000000001 workers is 4)."""


@dataclass(frozen=True, slots=True)
class EbbState:
    keep_history: tuple[TimedCount, ...] = ()
    """`keep` counts of the last scale-in delay, oldest first."""
    ordered_backlog: int | None = None
    """Queue depth the last scale-up ordered workers for; forgotten once none are starting."""


@dataclass(frozen=True, slots=True)
class Demand:
    """The arithmetic of one tick, kept for the decision's reason."""

    workers: float
    explanation: str


@dataclass(frozen=True, slots=True)
class EbbPolicy:
    """Queue-aware sizing from the measured service rate, the arrival rate and the SLO.

        make_policy("ebb", target_utilisation=0.7, scale_in_delay_s=60)
    """

    sizing: str = "erlang"
    """How the arrival rate becomes workers. ``erlang``: the fewest workers for which an M/M/c
    queue keeps P(wait > SLO budget) under ``miss_fraction`` (Erlang C), never planning above
    ``max_utilisation``; ``utilisation``: arrival rate / (mu x ``target_utilisation``)."""
    target_utilisation: float = 0.8
    """Fraction of a worker's capacity the arrival rate may use (rho), ``utilisation`` sizing."""
    miss_fraction: float = 0.01
    """Share of requests that may wait longer than the SLO budget (``erlang`` sizing)."""
    max_utilisation: float = 0.95
    """Upper bound on planned utilisation (``erlang`` sizing), for noise in the estimates."""
    drain_fraction: float = 0.5
    """Share of the SLO within which the current backlog should be cleared."""
    scale_in_delay_s: float = 30.0
    """How long demand must stay low before workers are released."""
    scale_in_margin: float = 0.1
    """Extra demand a smaller pool must be able to carry before it is chosen."""
    fallback_requests_per_worker: float = 4.0
    """Requests waiting or in flight per worker while no service time is measured."""

    def __post_init__(self) -> None:
        if not 0 < self.target_utilisation <= 1:
            raise ValueError(f"target_utilisation must be in (0, 1], got "
                             f"{self.target_utilisation}")
        if self.drain_fraction <= 0 or self.fallback_requests_per_worker <= 0:
            raise ValueError(f"drain_fraction and fallback_requests_per_worker must be "
                             f"positive, got {self.drain_fraction}, "
                             f"{self.fallback_requests_per_worker}")
        if self.sizing not in ("erlang", "utilisation"):
            raise ValueError(f"sizing must be 'erlang' or 'utilisation', got {self.sizing!r}")
        if not 0 < self.miss_fraction < 1 or not 0 < self.max_utilisation <= 1:
            raise ValueError(f"miss_fraction must be in (0, 1) and max_utilisation in (0, 1], "
                             f"got {self.miss_fraction}, {self.max_utilisation}")
        if self.scale_in_delay_s < 0 or self.scale_in_margin < 0:
            raise ValueError(f"scale_in_delay_s and scale_in_margin must not be negative, got "
                             f"{self.scale_in_delay_s}, {self.scale_in_margin}")

    @property
    def name(self) -> str:
        return "ebb"

    def initial_state(self) -> EbbState:
        return EbbState()

    def decide(self, signal: ScalingInput, state: EbbState) -> tuple[ScalingDecision, EbbState]:
        if not signal.metric_available:
            return hold(signal, "ebb: no signal this tick"), state
        now = signal.now
        current = signal.current_workers
        backlog = signal.queue_depth
        if signal.starting_workers > 0 and state.ordered_backlog is not None:
            backlog = min(backlog, state.ordered_backlog)

        demand = self.demand(signal, backlog)
        needed = math.ceil(demand.workers - _EPSILON)
        keep = self.keep(signal, backlog, demand)
        history = state.keep_history or (TimedCount(now, current),)
        history = (*(r for r in history if r.at > now - self.scale_in_delay_s),
                   TimedCount(now, keep))
        held = max(r.workers for r in history)

        if needed > current:
            return (ScalingDecision(needed, f"ebb: {demand.explanation} -> {needed} "
                                            f"(have {current})"),
                    EbbState(history, backlog))
        ordered = state.ordered_backlog if signal.starting_workers > 0 else None
        if held < current:
            return (ScalingDecision(held, f"ebb: {demand.explanation}; low for "
                                          f"{self.scale_in_delay_s:g} s -> {held}"),
                    EbbState(history, ordered))
        return (ScalingDecision(current, f"ebb: {demand.explanation}; keeping {current}"),
                EbbState(history, ordered))

    def keep(self, signal: ScalingInput, backlog: int, demand: Demand) -> int:
        """The pool a scale-in may shrink to: enough for ``scale_in_margin`` more demand."""
        if self.sizing == "utilisation" or signal.service_time_s <= 0:
            return math.ceil(demand.workers * (1 + self.scale_in_margin) - _EPSILON)
        busier = replace(signal, arrival_rate=signal.arrival_rate * (1 + self.scale_in_margin))
        return math.ceil(self.demand(busier, backlog).workers - _EPSILON)

    def demand(self, signal: ScalingInput, backlog: int) -> Demand:
        """Workers the arrivals and `backlog` need, as a real number."""
        if signal.service_time_s <= 0:
            load = backlog + signal.inflight
            workers = load / self.fallback_requests_per_worker
            return Demand(workers, f"no service time yet, {load} requests / "
                                   f"{self.fallback_requests_per_worker:g} per worker = "
                                   f"{workers:.2f}")
        mu = max(1.0, signal.mean_batch_size) / signal.service_time_s
        budget = self.drain_fraction * signal.slo_s
        rate = signal.arrival_rate
        n_backlog = backlog / (mu * budget)
        queue_part = f"queue {backlog} in {budget * 1000:.0f} ms = {n_backlog:.2f}"
        if self.sizing == "utilisation":
            n_rate = rate / (mu * self.target_utilisation)
            return Demand(max(n_rate, n_backlog),
                          f"arrivals {rate:.1f}/s at mu {mu:.1f}/s x "
                          f"{self.target_utilisation:g} = {n_rate:.2f}, {queue_part}")
        wait_budget = max(signal.slo_s - signal.service_time_s, 0.2 * signal.slo_s)
        workers = erlang_c_workers(rate, mu, wait_budget, self.miss_fraction,
                                   self.max_utilisation)
        return Demand(max(float(workers), n_backlog),
                      f"arrivals {rate:.1f}/s at mu {mu:.1f}/s need {workers} for "
                      f"P(wait > {wait_budget * 1000:.0f} ms) <= {self.miss_fraction:g}, "
                      f"{queue_part}")


def erlang_c_workers(rate: float, mu: float, wait_budget_s: float, miss_fraction: float,
                     max_utilisation: float) -> int:
    """Fewest servers c of an M/M/c queue with P(wait > budget) <= miss_fraction.

    P(wait > t) = C(c, a) x exp(-(c mu - lambda) t), with a = lambda / mu and C the Erlang C
    probability of waiting, from the numerically stable Erlang B recursion
    B(k) = a B(k-1) / (k + a B(k-1)) and C = c B / (c - a (1 - B)). Exponential service is
    pessimistic for models with near-constant service time, which leaves room for burstier
    arrivals than Poisson.
    """
    if rate <= 0:
        return 0
    offered = rate / mu
    blocking = 1.0
    servers = 0
    while True:
        servers += 1
        blocking = offered * blocking / (servers + offered * blocking)
        if servers <= offered or offered / servers > max_utilisation:
            continue
        waiting = servers * blocking / (servers - offered * (1 - blocking))
        if waiting * math.exp(-(servers * mu - rate) * wait_budget_s) <= miss_fraction:
            return servers
