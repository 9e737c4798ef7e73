"""The batching rule as pure functions: when the requests waiting for a worker leave as a batch.

Two rules share ``BatchPolicy``:

- the fixed window (``flush_due``, ``flush_deadline``): flush at the size limit or when the
  oldest request has waited ``max_delay_s``, whichever first (the simulator's rule, and the
  gateway's with ``adaptive=False``);
- the adaptive rule (``idle_flush_at``), asked by a worker that is idle: leave at once, unless
  the measured arrival rate says more rows are coming before the delay runs out, and only
  while they keep coming. A lone request, or a closed loop whose clients all wait in the queue
  (16 clients cannot fill a batch of 32), no longer waits out the delay for company that is
  not coming, while a stream of arrivals still forms batches; while every worker is busy
  nobody asks, and the batch fills by itself. ``max_delay_s`` stays the cap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_batch_size: int
    """Rows per batch; 1 turns batching off."""
    max_delay_s: float
    """How long the oldest waiting request may wait for companions."""
    adaptive: bool = True
    """An idle worker waits for companions only when the arrival rate says they will fill the
    batch before ``max_delay_s`` (``idle_flush_at``); False: always wait out the window."""

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if self.max_delay_s < 0:
            raise ValueError("max_delay_s must not be negative")


def flush_due(policy: BatchPolicy, rows_waiting: int, oldest_enqueued_at: float, now: float
              ) -> bool:
    """Whether a batch should leave now, given what waits in its group."""
    if rows_waiting >= policy.max_batch_size:
        return True
    return now >= flush_deadline(policy, oldest_enqueued_at)


def flush_deadline(policy: BatchPolicy, oldest_enqueued_at: float) -> float:
    """When the oldest request's wait for companions runs out."""
    return oldest_enqueued_at + policy.max_delay_s


def take_count(policy: BatchPolicy, row_counts: Iterable[int]) -> int:
    """How many leading requests of a group fit one batch (at least one, even if oversized)."""
    total = 0
    taken = 0
    for rows in row_counts:
        if taken and total + rows > policy.max_batch_size:
            break
        total += rows
        taken += 1
    return taken


ARRIVAL_WEIGHT = 0.2
"""Weight of the newest gap in the arrival-rate average: about the last five arrivals count."""
MIN_GAP_S = 50e-6
"""No gap between rows is taken as shorter: a gateway spends more than this on one request, and
a look again "when the next row is due" must not spin."""
PAUSE_GAPS = 2.0
"""A stream has paused when no row came for this many average gaps (a Poisson stream leaves
such a gap once in e^2, about 7, arrivals)."""


def next_gap_per_row(previous_s: float, gap_s: float, rows: int) -> float:
    """The moving average of the time between arriving rows, after one more arrival.

    ``previous_s`` is ``math.inf`` before the second arrival (no rate known yet)."""
    per_row = gap_s / max(rows, 1)
    if math.isinf(previous_s):
        return per_row
    return previous_s + ARRIVAL_WEIGHT * (per_row - previous_s)


def idle_flush_at(policy: BatchPolicy, rows_waiting: int, oldest_enqueued_at: float, now: float,
                  gap_per_row_s: float, last_arrival_at: float) -> float:
    """When the oldest group should leave, asked by an idle worker; ``<= now`` means now.

    ``gap_per_row_s`` is the moving average of the time between arriving rows. Company is
    worth waiting for while rows keep coming: the worker looks again when the stream would have
    paused (``PAUSE_GAPS`` gaps after the last arrival; each arrival also wakes it). Leave now
    when no rate is known yet (a lone request) or the stream has paused (a closed loop whose
    clients all wait in the queue sends nothing more, and its old rate must not hold a batch
    back). Never past the deadline."""
    if rows_waiting >= policy.max_batch_size:
        return now
    deadline = flush_deadline(policy, oldest_enqueued_at)
    if now >= deadline:
        return now
    if not policy.adaptive:
        return deadline
    if math.isinf(gap_per_row_s):
        return now
    paused_at = last_arrival_at + PAUSE_GAPS * max(gap_per_row_s, MIN_GAP_S)
    if now >= paused_at:
        return now
    return min(deadline, paused_at)
