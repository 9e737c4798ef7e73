"""Which requests the log keeps: a deterministic, evenly spread fraction.

    keep = Sampler(0.25)
    [keep.take() for _ in range(8)]   # False, False, False, True, False, False, False, True

A counter, not a random draw: the same traffic gives the same rows, tests need no seed, and over
any N requests exactly floor(N x fraction) are kept. The fraction is read as a ratio of small
integers (up to a million in the denominator).
"""

from __future__ import annotations

from fractions import Fraction


class Sampler:
    __slots__ = ("_count", "_denominator", "_kept", "_numerator", "everything")

    def __init__(self, fraction: float) -> None:
        if not 0.0 < fraction <= 1.0:
            raise ValueError(f"sample fraction must be in (0, 1], got {fraction}")
        ratio = Fraction(fraction).limit_denominator(1_000_000)
        self._numerator, self._denominator = ratio.numerator, ratio.denominator
        self.everything = ratio == 1
        self._count = 0
        self._kept = 0

    def take(self) -> bool:
        """Whether to keep the next request."""
        if self.everything:
            return True
        self._count += 1
        due = self._count * self._numerator // self._denominator
        if due > self._kept:
            self._kept = due
            return True
        return False
