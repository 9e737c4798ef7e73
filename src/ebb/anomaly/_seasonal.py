"""What a signal usually is at this time of day: a robust profile per time-of-day slot.

The season (a day by default) is cut into slots (5 minutes by default). When a slot ends, the
median of the values seen in it and their spread (1.4826 x MAD, a standard deviation for normal
data) are written into that slot's ring of the last `seasons_kept` seasons. The expected value at
a moment is the median of the ring's medians, interpolated between the two nearest slot centres;
its spread combines the typical within-slot spread with the spread of the medians between
seasons::

    baseline = median over seasons (slot median)
    spread   = sqrt( median over seasons (within-slot spread) ^ 2
                   + (1.4826 x MAD over seasons (slot median)) ^ 2 )

Medians keep one odd day (an incident, a holiday) from moving the baseline once three or more
seasons are kept; the caller also clips what it feeds in to within a few spreads of what it
expected, so an anomaly can move a slot's median by at most that much per season.
"""

from __future__ import annotations

import math

MAD_TO_SIGMA = 1.4826
"""1 / Phi^-1(3/4): turns a median absolute deviation into a standard deviation."""
_MIN_COVERAGE = 0.5
"""A slot is learned only if samples cover at least this fraction of it."""


def median(values: list[float]) -> float:
    """Median of a non-empty list (sorting beats numpy for the few hundred values here)."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


class SeasonalProfile:
    """Slot medians and spreads over the last seasons; `expected` answers once a slot is known.

        profile = SeasonalProfile(period_s=86_400, slot_s=300, seasons_kept=7)
        profile.add(now, value); profile.expected(now)   # None until the slot has been seen
    """

    def __init__(self, period_s: float, slot_s: float, seasons_kept: int) -> None:
        slots = round(period_s / slot_s)
        if slots < 2 or not math.isclose(slots * slot_s, period_s, rel_tol=1e-9):
            raise ValueError(f"period_s must be a whole number (>= 2) of slots, got period "
                             f"{period_s} s, slot {slot_s} s")
        if seasons_kept < 1:
            raise ValueError(f"seasons_kept must be at least 1, got {seasons_kept}")
        self.period_s = period_s
        self.slot_s = slot_s
        self.slots = slots
        self.seasons_kept = seasons_kept
        self._medians: list[list[float]] = [[] for _ in range(slots)]
        """Per slot of the season, the slot medians of the last seasons, oldest first."""
        self._spreads: list[list[float]] = [[] for _ in range(slots)]
        self._baseline: list[float | None] = [None] * slots
        self._spread = [0.0] * slots
        self._slot: int | None = None
        """Absolute number of the slot being filled (floor(now / slot_s))."""
        self._values: list[float] = []
        self._first_t = 0.0
        self._last_t = 0.0

    def add(self, now: float, value: float) -> None:
        """Feed one value; a slot is summarised when the first value of the next one arrives."""
        slot = math.floor(now / self.slot_s)
        if slot != self._slot:
            if self._slot is not None and slot > self._slot:
                self._close(now)
            self._slot = slot
            self._values = []
            self._first_t = now
        self._values.append(value)
        self._last_t = now

    def expected(self, now: float) -> tuple[float, float] | None:
        """(baseline, spread) at `now`, or None while the slot holding `now` has no history."""
        here = self._baseline[self._slot_of_day(now)]
        if here is None:
            return None
        position = (now % self.period_s) / self.slot_s - 0.5
        lower = math.floor(position)
        weight = position - lower
        lower %= self.slots
        upper = (lower + 1) % self.slots
        below, above = self._baseline[lower], self._baseline[upper]
        if below is None or above is None:
            return here, self._spread[self._slot_of_day(now)]
        return ((1 - weight) * below + weight * above,
                (1 - weight) * self._spread[lower] + weight * self._spread[upper])

    def _slot_of_day(self, now: float) -> int:
        return math.floor(now / self.slot_s) % self.slots

    def _close(self, next_t: float) -> None:
        """Summarise the slot just ended, if its samples covered enough of it."""
        values = self._values
        count = len(values)
        span = self._last_t - self._first_t
        step = span / (count - 1) if count > 1 else min(next_t - self._last_t, self.slot_s)
        if span + step < _MIN_COVERAGE * self.slot_s:
            return
        assert self._slot is not None
        middle = median(values)
        day_slot = self._slot % self.slots
        medians = self._medians[day_slot]
        spreads = self._spreads[day_slot]
        medians.append(middle)
        spreads.append(MAD_TO_SIGMA * median([abs(v - middle) for v in values]))
        if len(medians) > self.seasons_kept:
            del medians[0], spreads[0]
        baseline = median(medians)
        between = MAD_TO_SIGMA * median([abs(m - baseline) for m in medians])
        self._baseline[day_slot] = baseline
        self._spread[day_slot] = math.hypot(median(spreads), between)
