"""The arithmetic under Ebb's policy: a worker's service rate as a function of batch size,
fitted from the signals, the queueing formulas that turn rates into workers, and the queue
growth that has held long enough to be projected (`held_growth`).

A worker answers a batch of n requests in ``s(n) = a + b x n`` seconds. The signals carry,
per tick, the mean batch size and the mean wall time of a batch over the rate window; ticks
with different mean batch sizes are points on that line, so a least-squares fit gives ``a``
and ``b`` once the points spread over at least `MIN_BATCH_SPREAD` requests. Until then (and
always when batches are one request) nothing is assumed about larger batches: ``a = 0`` and
``b = service_time / mean_batch``, a service rate that does not grow with the batch.

    fit = fit_service(((1.0, 0.022), (3.0, 0.026)))     # a = 20 ms, b = 2 ms
    fit.rate(8)                                         # requests/s at batches of 8
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

MIN_BATCH_SPREAD = 0.5
"""Mean batch sizes must differ by this much before a slope is fitted."""


@dataclass(frozen=True, slots=True)
class ServiceFit:
    """``s(n) = a + b x n`` seconds per batch of n; `fitted` is False for the flat fallback."""

    a: float
    b: float
    fitted: bool

    def seconds(self, batch: float) -> float:
        return self.a + self.b * batch

    def rate(self, batch: float) -> float:
        """Requests per second one busy worker answers in batches of `batch`."""
        return max(1.0, batch) / self.seconds(max(1.0, batch))


def flat(service_time_s: float, mean_batch: float) -> ServiceFit:
    """No batching headroom: every request costs its share of the batch seen."""
    return ServiceFit(0.0, service_time_s / max(1.0, mean_batch), False)


def fit_service(samples: Iterable[tuple[float, float]]) -> ServiceFit | None:
    """Least squares of (mean batch, batch seconds) samples; None without enough spread or
    when the fit is not a cost that grows with the batch (noise)."""
    points = list(samples)
    if len(points) < 2:
        return None
    xs = [n for n, _ in points]
    if max(xs) - min(xs) < MIN_BATCH_SPREAD:
        return None
    mean_x = sum(xs) / len(xs)
    mean_y = sum(s for _, s in points) / len(points)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((n - mean_x) * (s - mean_y) for n, s in points)
    b = sxy / sxx
    a = mean_y - b * mean_x
    if a < 0 or b <= 0:
        return None
    return ServiceFit(a, b, True)


def batched_workers(rate: float, fit: ServiceFit, slo_s: float, max_utilisation: float,
                    max_batch: int) -> float:
    """Workers a batching pool needs for `rate` (a real number).

    A busy worker at r requests/s settles at the batch n that arrives while it serves one:
    ``n = r x s(n)``, so ``s = a / (1 - r b)``. A request waits for the batch in progress and
    then its own, about ``2 s``; keeping that within the SLO and the per-request work ``r b``
    under `max_utilisation` gives ``r b <= u = min(max_utilisation, 1 - 2a / slo)``, so
    ``workers = rate x b / u``; and no worker can answer more than full batches do:
    ``workers >= rate / (max_utilisation x rate_at(max_batch))``.
    """
    if rate <= 0:
        return 0.0
    full = rate / (max_utilisation * fit.rate(max_batch))
    usable = min(max_utilisation, 1 - 2 * fit.a / slo_s)
    if usable <= 0.05:
        return max(full, rate * fit.seconds(1.0) / max_utilisation)
    return max(full, rate * fit.b / usable)


def backlog_workers(backlog: float, fit: ServiceFit, budget_s: float, max_batch: int) -> float:
    """Workers that answer `backlog` waiting requests within `budget_s` (a real number).

    c workers take it in batches of ``backlog / c``, done in ``s(backlog / c)`` when that fits
    a batch: ``c >= b x backlog / (budget - a)``; in rounds of full batches otherwise:
    ``c >= backlog / (rate_at(max_batch) x budget)``. Flat (``a = 0``): ``backlog / (mu x
    budget)``.
    """
    if backlog <= 0:
        return 0.0
    rounds = backlog / (fit.rate(max_batch) * budget_s)
    if budget_s <= fit.a:
        return max(rounds, backlog / max_batch)
    return max(rounds, fit.b * backlog / (budget_s - fit.a))


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


GROWTH_GAP_S = 2.0
"""Queue growth is measured only between ticks at most this far apart."""
GROWTH_SEEN_S = 1.0
GROWTH_SEEN = 0.1
"""Queue growth is projected a cold start C ahead only once it has held at every tick for
max(GROWTH_SEEN_S, GROWTH_SEEN x C) seconds: a 20 s pod start is not bought on the clumps of
one second."""


def held_growth(growths: tuple[tuple[float, float], ...], now: float, grown: float,
                cold_s: float) -> tuple[tuple[tuple[float, float], ...], float]:
    """The (time, growth) samples to keep with this tick's, and the smallest growth of the
    ticks in the last max(GROWTH_SEEN_S, GROWTH_SEEN x C) seconds (at least the last two)."""
    seen = max(GROWTH_SEEN_S, GROWTH_SEEN * cold_s) - 1e-3   # 1 ms: float noise of ticks
    kept = (*(g for g in growths if g[0] > now - seen - GROWTH_GAP_S), (now, grown))
    recent = [g for at, g in kept if at >= now - seen]
    return kept, min(recent if len(recent) > 1 else [g for _, g in kept[-2:]])
