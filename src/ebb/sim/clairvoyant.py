"""The clairvoyant bound: the ideal oracle's worker counts, paid for as a real pool pays.

The ideal oracle (`ebb.sim.oracle`) has workers appear and vanish at no cost between windows.
No real system can do that, so its ratio overstates how far a policy is from the best
possible. The clairvoyant bound keeps the oracle's perfect knowledge of the future and its
per-window counts at the target attainment (`Oracle.counts_at`), but pays for them the way
any pool does:

- a worker costs worker-seconds from the moment it is ordered, and is useful one cold start
  ``C`` later (so it is ordered ``C`` before the window that needs it);
- once started it is released no earlier than its minimum useful life ``L`` (default: one
  cold start);
- the workers ready at t = 0 (the world's warm start) are there for free.

The cheapest such schedule is found exactly. With ``n(t)`` the workers that exist, the cost
is ``integral of n + C x (starts)``, and both split over levels (``n >= k`` for k = 1, 2,
...): the k-th worker is needed in the windows where the oracle's count is at least k, and
the levels' optimal schedules nest, so each level is solved alone by a small dynamic program
over windows with states *off* and *on for a windows* (a < L / window, then "old enough to
release"). A gap between two needs is bridged when keeping the worker (gap seconds) is
cheaper than a new start (C), and a lone short need is paid for L.

    bound = clairvoyant_worker_seconds(oracle, world, 0.99, duration_s=trace.duration_s)
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ebb.sim.oracle import Oracle
from ebb.sim.world import World


def clairvoyant_worker_seconds(oracle: Oracle, world: World, attainment: float, *,
                               duration_s: float, min_life_s: float | None = None,
                               initial_workers: int | None = None) -> float:
    """Least worker-seconds of a pool that pays cold starts and holds each worker at least
    `min_life_s` (default: the cold start) while giving every window the oracle's count at
    `attainment`; inf when the oracle cannot reach it."""
    if attainment > oracle.best_attainment + 1e-12:
        return math.inf
    counts = oracle.counts_at(attainment)
    cold = world.cold_start.mean_s
    life = cold if min_life_s is None else min_life_s
    start = world.start_workers if initial_workers is None else initial_workers
    widths = window_widths(len(counts), oracle.window_s, duration_s)
    return cover_cost(counts, widths, cold, life, start)


def window_widths(bins: int, window_s: float, duration_s: float) -> NDArray[np.float64]:
    """Each window's length; the last one ends with the trace."""
    starts = np.arange(bins, dtype=np.float64) * window_s
    widths: NDArray[np.float64] = np.clip(np.minimum(window_s, duration_s - starts), 0.0, None)
    return widths


def cover_cost(counts: NDArray[np.int64], widths: NDArray[np.float64], cold_s: float,
               min_life_s: float, initial: int) -> float:
    """Least cost of workers covering `counts` per window (see the module docstring): all
    levels at once, one vectorised step per window."""
    levels = int(counts.max(initial=0))
    if levels == 0:
        return 0.0
    need = counts[None, :] >= np.arange(1, levels + 1)[:, None]
    span = float(np.max(widths, initial=0.0)) or 1.0
    mature = max(1, math.ceil(min_life_s / span - 1e-9)) if min_life_s > 0 else 1
    inf = math.inf
    free = np.arange(1, levels + 1) <= initial
    off = np.where(free, inf, 0.0)
    on = np.full((levels, mature), inf)  # on[:, a - 1]: on for a windows (last: mature)
    on[free, mature - 1] = 0.0
    for w, width in enumerate(widths.tolist()):
        started = off + cold_s
        stay = np.empty_like(on)
        stay[:, 1:] = on[:, :-1]                 # one window older
        stay[:, 0] = started
        stay[:, -1] = np.minimum(on[:, -1], on[:, -2] if mature > 1 else started)
        off = np.where(need[:, w], inf, np.minimum(off, on[:, -1]))  # release when mature
        on = stay + width
    return float(np.sum(np.minimum(off, on.min(axis=1))))
