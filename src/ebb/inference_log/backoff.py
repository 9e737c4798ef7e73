"""How long the writer waits before reconnecting: doubling from 0.1 s, capped at 5 s."""

from __future__ import annotations

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 5.0


def backoff_delay(failures: int, first_s: float = FIRST_DELAY_S, cap_s: float = MAX_DELAY_S
                  ) -> float:
    """The wait after ``failures`` consecutive failures (1 or more)."""
    return min(cap_s, first_s * 2.0 ** max(failures - 1, 0))
