"""Ebb's own policy: size the pool with queueing arithmetic, for the backlog expected when new
workers are ready, and release idle workers at the ski-rental break-even.

Per tick, with the SLO ``slo``, the drain budget ``T = drain_fraction x slo``, the host's
batch limit ``N`` (``max_batch_size``) and the service model ``s(n) = a + b n`` of `ebb_model`
(least squares over recent ticks' mean batch size and batch time, kept until the next fit;
flat, ``a = 0``, ``b = s / n``, until batch sizes first spread)::

    mu        = n / s(n) at the batch n seen       requests/s of one worker
    rate      = workers for the arrival rate lambda:
                erlang       fewest c of an M/M/c queue (service rate mu) with
                             P(wait > slo - s) <= miss_fraction, at most max_utilisation busy
                utilisation  lambda / (mu x target_utilisation)
                batched      (fitted curve) max(lambda x b / min(max_utilisation,
                             1 - 2a / slo), lambda / (max_utilisation x N / s(N))): a busy
                             worker settles at n = r s(n), so s = a / (1 - r b); waiting about
                             2 s within the SLO gives r b <= 1 - 2a / slo
                0            batches of more than 1.2 seen but no curve fitted yet: capacity
                             unknown, the queue terms decide
    backlog   = workers(queue)                     clears the queue seen now within T
    projected = workers(queue + g x lead), within max(T, 0.1 x lead) instead of T: clears
                the backlog expected when workers ordered now are ready (all of it late
                already: a long cold start does not buy workers to clear it in T)
                workers(q) = max(b q / (T - a), q / (T x N / s(N)))   (one batch of q / c
                       each, or rounds of full batches; flat: q / (mu T). FIFO: c workers
                       clear the q ahead of any later arrival within that time)
                g    = max(lambda - ready x N / s(N), the smallest queue growth per second
                       of the ticks in the last max(1 s, C / 10) (at least the last two)),
                       only while positive and the ready workers cannot clear the queue
                       within T or keep up with lambda (the batching headroom of the ready
                       workers counts: full batches). A growth projected C ahead must have
                       held for a tenth of C: a 20 s pod start is not bought on the clumps
                       of one second
                lead = the cold start C for a new order; while workers are starting, what is
                       left of it since the first of them was ordered
    forecast  = rate at the Holt forecast of lambda one cold start ahead (`ebb_forecast`;
                knob ``forecast``, off by default; not while the queue is swamped)
    needed    = ceil(max(rate, backlog, projected, forecast))

- Bursts: ``needed`` above the workers that exist (ready + starting) is ordered at once.
- Reasons name the term that drove the decision: ``ebb: projected backlog -> 32 (have 3);
  projected backlog: queue 218 + 436/s x 5.0 s to ready = ...; rate 4.00, backlog 43.60``,
  and ``keep-alive 5.0 s over`` / ``keep-alive 5.0 s holds`` for releases and holds.
- Cold starts are not ordered twice: while workers are starting, the backlog term uses at
  most the backlog the last order was made for (the queue that builds because they are not
  ready yet was in the projection); growth faster than projected still orders more.
- Release (``release="keep-alive"``, the default): a count ``keep`` = the rate term at
  ``lambda x (1 + scale_in_margin)`` and the backlog term (no projection, no forecast) is
  recorded every tick (with a new, larger order's count: workers just ordered are kept one
  ``K`` too); the pool shrinks to the highest ``keep`` of the last ``K`` seconds once that is
  below the current count. ``K`` is the ski-rental keep-alive of `ebb_release`:
  one measured cold start C (keeping an idle worker C seconds costs what restarting it does),
  or, once gaps between bursts are seen, the ``K`` in {C, gaps} that would have cost least
  over them (a gap s costs s if kept through, K + C if not); at most ``scale_in_delay_s``.
  ``K = scale_in_delay_s`` (the cap) until a cold start is measured (what a restart costs is
  unknown), and while ``C >= 0.5 x scale_in_delay_s``: releasing before the cap can then save
  at most ``cap - C <= C`` idle worker-seconds, while demand back within the cap pays C again
  and leaves its requests late for C seconds (a 20 s pod start: 100 SLOs of 200 ms), which
  the idle seconds saved do not buy back.
  ``release="delay"`` keeps the fixed ``K = scale_in_delay_s`` of earlier versions. The
  margin keeps a steady load from flapping between two counts, and the first tick records
  the current count, so nothing is released earlier than one ``K`` after start.
- No service time measured yet (0): ``needed = ceil((queue + inflight) /
  fallback_requests_per_worker)``, with the same cold-start and release rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from ebb.autoscale.policies import ebb_forecast
from ebb.autoscale.policies.ebb_model import (
    GROWTH_GAP_S,
    ServiceFit,
    backlog_workers,
    batched_workers,
    erlang_c_workers,
    fit_service,
    flat,
    held_growth,
)
from ebb.autoscale.policies.ebb_release import (
    ReleaseMemory,
    expire,
    keep_alive_s,
    observe_starts,
    on_order,
    on_release,
)
from ebb.autoscale.policies.limits import TimedCount
from ebb.autoscale.types import ScalingDecision, ScalingInput, hold

__all__ = ["EbbPolicy", "EbbState", "erlang_c_workers"]

_EPSILON = 1e-9
"""Keeps ceil() from adding a worker for float noise (4.000000000001 workers is 4)."""
_SAMPLES = 40
"""(mean batch, batch seconds) samples kept for the service fit: 20 s of 0.5 s ticks."""
_PROJECTED_DRAIN = 0.1
"""A projected backlog is cleared within this share of the cold start ahead (at least T):
it is all late already, and workers that take long to start are not bought to clear it in
100 ms."""
_BATCHED = 1.2
_LONG_START = 0.5
"""A cold start at least this share of ``scale_in_delay_s`` keeps idle workers that long."""
"""Mean batch size above which batching is in use (its headroom unknown until fitted)."""


@dataclass(frozen=True, slots=True)
class EbbState:
    keep_history: tuple[TimedCount, ...] = ()
    """`keep` counts of the last keep-alive, oldest first."""
    ordered_backlog: float | None = None
    """Backlog the last scale-up ordered for; forgotten once none are starting."""
    ordered_at: float | None = None
    """When the first of the workers now starting was ordered."""
    last_queue: tuple[float, int] | None = None
    """(time, queue depth) of the previous tick."""
    growths: tuple[tuple[float, float], ...] = ()
    """(time, queue growth per second) of recent ticks, oldest first."""
    batches: tuple[tuple[float, float], ...] = ()
    """Recent (mean batch size, batch seconds) samples."""
    release: ReleaseMemory = field(default_factory=ReleaseMemory)
    trend: ebb_forecast.Trend | None = None
    fit: ServiceFit | None = None
    """The batch curve last fitted."""


@dataclass(frozen=True, slots=True)
class Terms:
    """The arithmetic of one tick: each term in workers, and the words for the reason."""

    workers: dict[str, float]
    """rate, backlog, projected backlog, forecast."""
    words: dict[str, str]
    backlog: float
    """The backlog the largest backlog term was sized for."""

    @property
    def driver(self) -> str:
        return max(self.workers, key=lambda k: self.workers[k])

    @property
    def needed(self) -> float:
        return max(self.workers.values(), default=0.0)

    def explain(self) -> str:
        first = self.driver
        rest = [f"{k} {self.workers[k]:.2f}" for k in self.workers if k != first]
        return f"{first}: {self.words[first]}" + (f"; {', '.join(rest)}" if rest else "")


@dataclass(frozen=True, slots=True)
class _View:
    """What this tick's signals and the remembered ones say, for the terms."""

    fit: ServiceFit
    mu: float
    """Requests/s of one worker at the batch size seen."""
    growth: float
    lead_s: float
    cold_s: float
    forecast_rate: float | None


@dataclass(frozen=True, slots=True)
class EbbPolicy:
    """Queue-aware sizing from the measured service rate, the arrival rate and the SLO.

        make_policy("ebb", miss_fraction=0.01, forecast=True)
    """

    sizing: str = "erlang"
    """How the arrival rate becomes workers without a fitted batching curve. ``erlang``: the
    fewest workers for which an M/M/c queue keeps P(wait > SLO budget) under
    ``miss_fraction`` (Erlang C), never above ``max_utilisation``; ``utilisation``: arrival
    rate / (mu x ``target_utilisation``). With a fitted curve (``batching``), ``batched``."""
    target_utilisation: float = 0.8
    """Fraction of a worker's capacity the arrival rate may use (rho), ``utilisation`` sizing."""
    miss_fraction: float = 0.01
    """Share of requests that may wait longer than the SLO budget (``erlang`` sizing)."""
    max_utilisation: float = 0.95
    """Upper bound on planned utilisation, for noise in the estimates."""
    drain_fraction: float = 0.5
    """Share of the SLO within which the current backlog should be cleared."""
    scale_in_delay_s: float = 30.0
    """The longest keep-alive (``release=keep-alive``), or the fixed delay (``delay``)."""
    scale_in_margin: float = 0.1
    """Extra demand a smaller pool must be able to carry before it is chosen."""
    fallback_requests_per_worker: float = 4.0
    """Requests waiting or in flight per worker while no service time is measured."""
    release: str = "keep-alive"
    """``keep-alive``: idle workers kept about one cold start (ski rental, adapted to the gaps
    seen between bursts); ``delay``: kept ``scale_in_delay_s``."""
    cold_start_s: float = 5.0
    """Assumed cold start until one is measured (from the starting-worker counts), for the
    projection's lead; the keep-alive is ``scale_in_delay_s`` until then."""
    projection: bool = True
    """Size for the backlog expected when new workers are ready (growth x cold start)."""
    batching: bool = True
    """Fit the batch service curve and use its headroom (off: a flat service rate)."""
    forecast: bool = False
    """Start workers ahead of a rising trend of the arrival rate (Holt, one cold start)."""
    max_batch_size: int = 32
    """The host's batch limit (``ebb serve --max-batch-size``; the simulated world's)."""

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
        if self.release not in ("keep-alive", "delay"):
            raise ValueError(f"release must be 'keep-alive' or 'delay', got {self.release!r}")
        if not 0 < self.miss_fraction < 1 or not 0 < self.max_utilisation <= 1:
            raise ValueError(f"miss_fraction must be in (0, 1) and max_utilisation in (0, 1], "
                             f"got {self.miss_fraction}, {self.max_utilisation}")
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {self.max_batch_size}")
        if self.scale_in_delay_s < 0 or self.scale_in_margin < 0 or self.cold_start_s < 0:
            raise ValueError(f"scale_in_delay_s, scale_in_margin and cold_start_s must not be "
                             f"negative, got {self.scale_in_delay_s}, {self.scale_in_margin}, "
                             f"{self.cold_start_s}")

    @property
    def name(self) -> str:
        return "ebb"

    def initial_state(self) -> EbbState:
        return EbbState()

    def decide(self, signal: ScalingInput, state: EbbState) -> tuple[ScalingDecision, EbbState]:
        if not signal.metric_available:
            return hold(signal, "ebb: no signal this tick"), state
        now, current = signal.now, signal.current_workers
        state, view = self._observe(signal, state)
        terms = self.terms(signal, view, state)
        needed = math.ceil(terms.needed - _EPSILON)
        keep = self.keep(signal, view)
        window = self.keep_alive(view, state.release)
        history = state.keep_history or (TimedCount(now, current),)
        history = tuple(r for r in history if r.at > now - window)
        held = max((keep, *(r.workers for r in history)))
        if needed > current:  # an order is kept one keep-alive, like demand
            history = (*history, TimedCount(now, max(keep, needed)))
        else:
            history = (*history, TimedCount(now, keep))
        state = replace(state, keep_history=history)
        if needed > current:
            first = state.ordered_at if signal.starting_workers and state.ordered_at else now
            ordered = max(terms.backlog, state.ordered_backlog or 0.0) \
                if signal.starting_workers else terms.backlog
            return (ScalingDecision(needed, f"ebb: {terms.driver} -> {needed} (have {current})"
                                            f"; {terms.explain()}"),
                    replace(state, ordered_at=first, ordered_backlog=ordered,
                            release=on_order(state.release, now, self.scale_in_delay_s)))
        if held < current:
            return (ScalingDecision(held, f"ebb: keep-alive {window:.1f} s over -> {held} "
                                          f"(have {current}); {terms.explain()}"),
                    replace(state, release=on_release(state.release, now, window)))
        why = f"keep-alive {window:.1f} s holds {current}" if needed < current else \
            f"keeping {current}"
        return ScalingDecision(current, f"ebb: {why}; {terms.explain()}"), state

    def keep_alive(self, view: _View, memory: ReleaseMemory) -> float:
        """How long demand must stay low before workers go (see `ebb_release`): the longest,
        ``scale_in_delay_s``, until a cold start is measured or once it is at least half of
        that (module docstring, "Release")."""
        cap = self.scale_in_delay_s
        if self.release == "delay" or memory.cold_start_s is None or \
                memory.cold_start_s >= _LONG_START * cap:
            return cap
        return keep_alive_s(memory.spells, memory.cold_start_s, cap)

    def _observe(self, signal: ScalingInput, state: EbbState) -> tuple[EbbState, _View]:
        """Fold this tick's signals into the remembered ones: the service fit, the queue's
        growth, the measured cold start, the forecast."""
        now, queue, ready = signal.now, signal.queue_depth, signal.ready_workers
        memory = expire(observe_starts(state.release, now, signal.starting_workers), now,
                        self.scale_in_delay_s)
        batches = state.batches
        working = signal.service_time_s > 0
        if working:
            batch = max(1.0, signal.mean_batch_size)
            batches = (*batches, (batch, signal.service_time_s))[-_SAMPLES:]
        # the last curve fitted stays until a new one replaces it: steady load has one batch
        # size, which tells nothing about the others
        fitted = (fit_service(batches) if self.batching and self.max_batch_size > 1 else None) \
            or state.fit
        fit = fitted or flat(signal.service_time_s if working else 1.0, signal.mean_batch_size)
        mu = fit.rate(signal.mean_batch_size)
        grown = 0.0
        if state.last_queue is not None and 0 < now - state.last_queue[0] <= GROWTH_GAP_S:
            grown = (queue - state.last_queue[1]) / (now - state.last_queue[0])
        cold = self.cold_start_s if memory.cold_start_s is None else memory.cold_start_s
        growths, held = held_growth(state.growths, now, grown, cold)
        known = fit.fitted or not self._batched_unknown(signal)
        behind = signal.arrival_rate - ready * fit.rate(self.max_batch_size) if known else 0.0
        swamped = behind > 0 or backlog_workers(
            queue, fit, self.drain_fraction * signal.slo_s, self.max_batch_size) > ready
        growth = max(behind, held, 0.0) \
            if self.projection and working and swamped else 0.0
        starting = signal.starting_workers > 0
        lead = max(0.0, cold - (now - state.ordered_at)) \
            if starting and state.ordered_at is not None else cold
        # a backlog's catching up is not a trend: the forecast restarts after one
        trend = ebb_forecast.update(state.trend, now, signal.arrival_rate) \
            if self.forecast and not swamped else None
        ahead = ebb_forecast.forecast(trend, cold)
        view = _View(fit, mu, growth, lead, cold, ahead)
        state = replace(state, release=memory, batches=batches, fit=fitted,
                        last_queue=(now, queue), growths=growths, trend=trend,
                        ordered_at=state.ordered_at if starting else None,
                        ordered_backlog=state.ordered_backlog if starting else None)
        return state, view

    def terms(self, signal: ScalingInput, view: _View, state: EbbState) -> Terms:
        """Each term of ``needed`` for this tick (see the module docstring)."""
        queue = float(signal.queue_depth)
        if state.ordered_backlog is not None:
            queue = min(queue, state.ordered_backlog)
        if signal.service_time_s <= 0:
            load = queue + signal.inflight
            share = load / self.fallback_requests_per_worker
            return Terms({"backlog": share},
                         {"backlog": f"no service time yet, {load:.0f} requests / "
                                     f"{self.fallback_requests_per_worker:g} per worker = "
                                     f"{share:.2f}"}, queue)
        budget = self.drain_fraction * signal.slo_s
        n_rate, rate_words = self.rate_workers(signal.arrival_rate, signal, view)
        n_backlog = backlog_workers(queue, view.fit, budget, self.max_batch_size)
        workers = {"rate": n_rate, "backlog": n_backlog}
        words = {"rate": rate_words,
                 "backlog": f"queue {queue:.0f} in {budget * 1000:.0f} ms = {n_backlog:.2f}"}
        sized_for = queue
        if view.growth > 0:
            projected = signal.queue_depth + view.growth * view.lead_s
            later = max(budget, _PROJECTED_DRAIN * view.lead_s)
            n_projected = backlog_workers(projected, view.fit, later, self.max_batch_size)
            workers["projected backlog"] = n_projected
            words["projected backlog"] = (
                f"queue {signal.queue_depth} + {view.growth:.0f}/s x {view.lead_s:.1f} s to "
                f"ready = {projected:.0f} in {later * 1000:.0f} ms = {n_projected:.2f}")
            sized_for = max(sized_for, projected)
        if view.forecast_rate is not None:
            ahead, ahead_words = self.rate_workers(view.forecast_rate, signal, view)
            workers["forecast"] = ahead
            words["forecast"] = f"in {view.cold_s:.1f} s {ahead_words}"
        return Terms(workers, words, sized_for)

    def rate_workers(self, rate: float, signal: ScalingInput, view: _View
                     ) -> tuple[float, str]:
        """Workers the arrival `rate` needs, and the arithmetic in words."""
        fit = view.fit
        if fit.fitted:
            workers = batched_workers(rate, fit, signal.slo_s, self.max_utilisation,
                                      self.max_batch_size)
            return workers, (f"arrivals {rate:.1f}/s, batches cost {fit.a * 1000:.1f} + "
                             f"{fit.b * 1000:.2f} x n ms = {workers:.2f}")
        if self._batched_unknown(signal):
            return 0.0, (f"arrivals {rate:.1f}/s in batches of {signal.mean_batch_size:.1f}: "
                         f"capacity unknown until batch sizes vary, the queue decides")
        if self.sizing == "utilisation":
            workers = rate / (view.mu * self.target_utilisation)
            return workers, (f"arrivals {rate:.1f}/s at mu {view.mu:.1f}/s x "
                             f"{self.target_utilisation:g} = {workers:.2f}")
        wait_budget = max(signal.slo_s - signal.service_time_s, 0.2 * signal.slo_s)
        count = erlang_c_workers(rate, view.mu, wait_budget, self.miss_fraction,
                                 self.max_utilisation)
        return float(count), (f"arrivals {rate:.1f}/s at mu {view.mu:.1f}/s need {count} for "
                              f"P(wait > {wait_budget * 1000:.0f} ms) <= "
                              f"{self.miss_fraction:g}")

    def _batched_unknown(self, signal: ScalingInput) -> bool:
        """Batches of several requests are being served and the batch curve is not fitted:
        a worker's capacity is unknown (the queue shows whether it keeps up)."""
        return self.batching and self.max_batch_size > 1 and signal.mean_batch_size > _BATCHED

    def keep(self, signal: ScalingInput, view: _View) -> int:
        """The pool a scale-in may shrink to: the rate term at ``scale_in_margin`` more
        arrivals and the backlog seen now (no projection, no forecast)."""
        margin = 1 + self.scale_in_margin
        if signal.service_time_s <= 0:
            load = signal.queue_depth + signal.inflight
            return math.ceil(load / self.fallback_requests_per_worker * margin - _EPSILON)
        n_rate, _ = self.rate_workers(signal.arrival_rate * margin, signal, view)
        backlog = backlog_workers(signal.queue_depth, view.fit,
                                  self.drain_fraction * signal.slo_s, self.max_batch_size)
        return math.ceil(max(n_rate, backlog) - _EPSILON)
