"""The oracle: a lower bound on the worker-seconds any policy needs to reach an SLO attainment.

How it is computed (documented in docs/simulator.md as well):

1. Cut the trace into windows of `window_s` (default ten SLOs, at least 1 s).
2. For each window ``w`` and each worker count ``c`` in ``[min_workers, max_workers]``, replay
   the window's arrivals alone on ``c`` always-ready workers (zero cold start, an empty queue at
   the start, answering allowed to run one SLO past the window's end, the same service model,
   batching rule and queue bound): ``f_w(c)`` requests meet the SLO. Counts are tried upwards
   from ``min_workers`` until every request of the window meets the SLO (or ``max_workers``).
3. Choosing one count per window to reach ``A x N`` met requests at the least cost
   ``sum_w c_w x window_s`` is a multiple-choice knapsack. Its linear relaxation (counts may be
   fractional inside a window, as if the oracle switched counts mid-window for free) is solved
   exactly by a greedy walk over the upper concave hulls of the per-window ``(cost, met)``
   curves, steepest segment first. The relaxation is no more than the integer optimum, so the
   result is a lower bound for this world, and the walk gives the whole cost-vs-attainment
   curve at once.

Why it bounds every policy: a policy pays for cold starts and draining workers, reacts to
signals after they happen, carries backlog between windows, and holds counts for whole decision
periods; the oracle does none of that, and knows each window's arrivals in advance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from ebb.sim.engine import simulate_fixed
from ebb.sim.metrics import met
from ebb.sim.world import World, pin_size_unit
from ebb.traces import Trace

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Oracle:
    """The oracle's cost-vs-attainment curve and its per-window worker counts."""

    window_s: float
    requests: int
    attainment: FloatArray
    """Breakpoints of the curve, increasing."""
    worker_seconds: FloatArray
    """Least worker-seconds reaching each attainment breakpoint (linear in between)."""
    full_workers: NDArray[np.int64]
    """Per window: fewest workers with which every request of the window meets the SLO
    (`max_workers` when even that does not)."""
    base_workers: int = 0
    """The count every window starts from on the curve (`min_workers`)."""
    segment_window: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    """Per segment of the curve, in the walk's order: the window it raises."""
    segment_count: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    """Per segment: the window's worker count once the segment is taken."""

    def counts_at(self, attainment: float) -> NDArray[np.int64]:
        """Whole worker counts per window reaching `attainment` on the curve: the segments
        walked up to it, the one it falls inside taken whole (every window's full count when
        it cannot be reached)."""
        if attainment > self.attainment[-1] + 1e-12:
            return self.full_workers.copy()
        taken = int(np.searchsorted(self.attainment, attainment - 1e-12, side="left"))
        counts = np.full(len(self.full_workers), self.base_workers, dtype=np.int64)
        for w, c in zip(self.segment_window[:taken].tolist(),
                        self.segment_count[:taken].tolist(), strict=True):
            counts[w] = max(counts[w], c)
        return counts

    def worker_seconds_at(self, attainment: float) -> float:
        """Least worker-seconds that reach `attainment`; inf when no count reaches it."""
        if attainment > self.attainment[-1] + 1e-12:
            return math.inf
        return float(np.interp(attainment, self.attainment, self.worker_seconds))

    @property
    def best_attainment(self) -> float:
        return float(self.attainment[-1])


def default_window(slo_s: float) -> float:
    return max(1.0, 10 * slo_s)


def compute_oracle(trace: Trace, world: World, *, seed: int, window_s: float) -> Oracle:
    """The oracle of `trace` in `world` (see the module docstring)."""
    if window_s <= 0:
        raise ValueError(f"oracle window must be positive, got {window_s}")
    world = pin_size_unit(world, trace.sizes)
    duration = trace.duration_s
    bins = max(1, math.ceil(duration / window_s - 1e-9))
    edges = np.searchsorted(trace.arrivals, np.arange(bins + 1) * window_s, side="left")
    edges[-1] = len(trace.arrivals)
    low = world.min_workers
    # one window on its own: start empty, stop answering one SLO after the window ends
    alone = replace(world, drain_s=world.slo_s, sample_interval_s=max(window_s, 0.01))
    base_cost = 0.0
    base_met = 0
    segments: list[Segment] = []
    full = np.zeros(bins, dtype=np.int64)
    for w in range(bins):
        start = w * window_s
        width = min(window_s, duration - start) if duration > start else window_s
        lo, hi = int(edges[w]), int(edges[w + 1])
        base_cost += low * width
        if hi == lo:
            full[w] = low
            continue
        sizes = None if trace.sizes is None else trace.sizes[lo:hi]
        part = Trace(trace.arrivals[lo:hi] - start, sizes, trace.name, None, width)
        curve = _window_curve(part, alone, seed + w)
        full[w] = curve[-1][0]
        base_met += curve[0][1]
        segments.extend((cost, gain, w, count)
                        for cost, gain, count in _hull_segments(curve, width))
    return _walk(segments, base_cost, base_met, len(trace.arrivals), window_s, full, low)


EXACT_BELOW_FULL = 1
"""Counts just under the full count that are simulated; lower ones use `_met_bound`."""


def _window_curve(part: Trace, world: World, seed: int) -> list[tuple[int, int]]:
    """(workers, requests meeting the SLO) from `min_workers` up to the count meeting all.

    Counts are simulated from the first one the throughput bound allows to meet everything,
    upwards, until everything is met; then the few counts just below, and `min_workers`.
    The other counts get an upper bound (monotone in workers, and `_met_bound`), which can
    only make the oracle cheaper: it stays a lower bound, and the run stays fast.
    """
    count = len(part)
    low, high = world.min_workers, world.max_workers
    bound = _met_bound(part, world)
    exact: dict[int, int] = {}

    def met_with(c: int) -> int:
        if c not in exact:
            exact[c] = 0 if c == 0 else int(np.count_nonzero(
                met(simulate_fixed(part, world, c, seed=seed), world.slo_s)))
        return exact[c]

    c = max(low, 1)
    while c < high and bound(c) < count:
        c += 1
    while c < high and met_with(c) < count:
        c += 1
    top = c
    met_with(top)
    for c in range(max(low, top - EXACT_BELOW_FULL), top):
        met_with(c)
    met_with(low)
    curve = []
    ceiling = count
    for c in range(top, low - 1, -1):
        value = exact[c] if c in exact else min(ceiling, bound(c))
        ceiling = value if c in exact else ceiling
        curve.append((c, value))
    return curve[::-1]


def _met_bound(part: Trace, world: World) -> Callable[[int], int]:
    """An upper bound on the requests `c` workers can meet in the window: what they can
    serve at all between its start and one SLO after its end, each request charged its
    cheapest share of a batch (a full one), cheapest requests first. Service noise is
    allowed to run as fast as its 0.1 % quantile throughout."""
    service = world.service
    batch = world.max_batch_size
    fastest = math.exp(-service.sigma * service.sigma / 2 - 3.1 * service.sigma)
    if service.size_scaled and part.sizes is not None:
        unit = service.size_unit or float(np.mean(part.sizes)) or 1.0
        work = np.sort(part.sizes / unit)
    else:
        work = np.ones(len(part))
    cost = np.cumsum((service.fixed_s / batch + service.per_item_s * work) * fastest)
    horizon = part.duration_s + world.slo_s

    def bound(c: int) -> int:
        served = int(np.searchsorted(cost, c * horizon, side="right")) + c * batch
        return min(len(part), served)
    return bound


Segment = tuple[float, float, int, int]
"""(extra cost, extra met, window, the window's count at the segment's end)."""


def _hull_segments(curve: list[tuple[int, int]], width: float
                   ) -> list[tuple[float, float, int]]:
    """Segments of the upper concave hull of (cost, met) from the first point on, as
    (extra cost, extra met, count at the segment's end), skipping segments that add
    nothing."""
    points = [(c * width, float(good)) for c, good in curve]
    hull: list[tuple[float, float]] = [points[0]]
    for point in points[1:]:
        while len(hull) >= 2 and _slope(hull[-2], hull[-1]) <= _slope(hull[-1], point):
            hull.pop()
        hull.append(point)
    out = []
    for a, b in itertools.pairwise(hull):
        if b[1] > a[1]:
            out.append((b[0] - a[0], b[1] - a[1], round(b[0] / width)))
    return out


def _slope(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (b[1] - a[1]) / (b[0] - a[0])


def _walk(segments: list[Segment], base_cost: float, base_met: int, n: int,
          window_s: float, full: NDArray[np.int64], low: int) -> Oracle:
    """Steepest segments first: the cost-vs-met curve of the relaxed knapsack. Within a
    window the hull's segments get steeper towards fewer workers, and the sort is stable, so
    they are walked in the window's own order."""
    segments.sort(key=lambda s: s[1] / s[0], reverse=True)
    total = max(n, 1)
    cost = [base_cost]
    gain = [base_met / total]
    spent = base_cost
    got = float(base_met)
    for extra_cost, extra_met, _, _ in segments:
        spent += extra_cost
        got += extra_met
        cost.append(spent)
        gain.append(got / total)
    return Oracle(window_s, n, np.asarray(gain), np.asarray(cost), full, low,
                  np.asarray([s[2] for s in segments], dtype=np.int64),
                  np.asarray([s[3] for s in segments], dtype=np.int64))
