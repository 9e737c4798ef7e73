"""What happened to every scheduled arrival, in flat numpy arrays indexed by arrival number.

Times are seconds since the run's origin. Latency is ``done_at - scheduled``: measured from when
the request *should* have been sent, so a generator that falls behind shows up as latency rather
than hiding it (no coordinated omission); ``sent_at - scheduled`` is the generator's own lag.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ebb.loadgen.client import Outcome
from ebb.loadgen.stats import LatencyHistogram

_DETAILS_KEPT = 50


class Recording:
    """Filled in by the dispatcher as the run goes; read by progress and statistics."""

    def __init__(self, scheduled: np.ndarray) -> None:
        count = len(scheduled)
        self.scheduled = np.asarray(scheduled, dtype=np.float64)
        self.sent_at = np.full(count, np.nan)
        self.done_at = np.full(count, np.nan)
        self.outcome = np.zeros(count, dtype=np.int8)
        self.counts: Counter[Outcome] = Counter()
        self.details: Counter[str] = Counter()
        self.latency = LatencyHistogram()
        """Answered requests' latencies so far, for live percentiles."""
        self.sent = 0
        self.stopped_at: float | None = None
        """When the schedule was cut short, if it was."""

    def mark_sent(self, index: int, now: float) -> None:
        self.sent_at[index] = now
        self.sent += 1

    def mark_dropped(self, index: int, now: float) -> None:
        self.finish(index, now, Outcome.DROPPED, "outstanding-request cap reached")

    def finish(self, index: int, now: float, outcome: Outcome, detail: str) -> None:
        """Record an arrival's end; the first call for an index wins."""
        if self.outcome[index] != Outcome.PENDING:
            return
        self.done_at[index] = now
        self.outcome[index] = outcome
        self.counts[outcome] += 1
        if outcome == Outcome.ANSWERED:
            self.latency.add(now - float(self.scheduled[index]))
        if detail and (detail in self.details or len(self.details) < _DETAILS_KEPT):
            self.details[detail] += 1

    def truncate(self, count: int) -> Recording:
        """The first ``count`` arrivals only (a run stopped early never offered the rest)."""
        if count == len(self.scheduled):
            return self
        kept = Recording(self.scheduled[:count])
        kept.sent_at, kept.done_at = self.sent_at[:count], self.done_at[:count]
        kept.outcome = self.outcome[:count]
        kept.counts, kept.details, kept.sent = self.counts, self.details, self.sent
        kept.latency, kept.stopped_at = self.latency, self.stopped_at
        return kept

    def answered_latencies(self) -> np.ndarray:
        """Seconds from scheduled arrival to answer, for the requests answered so far."""
        answered = self.outcome == Outcome.ANSWERED
        latencies: np.ndarray = self.done_at[answered] - self.scheduled[answered]
        return latencies
