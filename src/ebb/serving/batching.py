"""The batching rule as pure functions: flush at the size limit or the delay, whichever first."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_batch_size: int
    """Rows per batch; 1 turns batching off."""
    max_delay_s: float
    """How long the oldest waiting request may wait for companions."""

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
