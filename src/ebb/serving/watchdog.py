"""Pure decisions about batches that run too long or lose their worker.

The worker pool asks two questions and acts on the answers (kill, answer, requeue):

* ``kill_at``: when to give up on a running batch and SIGKILL its worker. A batch is given up
  past the earliest deadline among its requests, but never before it ran ``patience_s`` (a
  floor that grows with the model's usual batch time), so that one client's 10 ms deadline
  cannot kill a worker that is doing normal work; and past ``max_runtime_s`` in any case. The
  requests themselves are answered 504 at their own deadlines by the queue's timers, kill or no
  kill: the kill only frees the worker and the batch's other requests.
* ``verdict``: what becomes of each request of a batch whose worker is gone. A batch that lost
  its worker is split: every request still waiting runs again, alone. A request that loses a
  worker while alone is the cause: it is answered with a 5xx that does not invite a retry
  (poison), except after an outside SIGKILL (an operator, the OOM killer), which gets one more
  try alone before it counts as poison.

    >>> kill_at(10.0, [10.5, 40.0], max_runtime_s=60.0, typical_batch_s=0.02)
    11.0
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

PATIENCE_FLOOR_S = 1.0
"""A batch may always run this long, whatever its requests' deadlines say."""
PATIENCE_FACTOR = 10.0
"""... and this many times the model's usual batch time."""


class Loss(enum.Enum):
    """How a worker was lost in the middle of a batch."""

    CRASHED = "crashed"
    """It exited or died of a signal other than SIGKILL (an exception in C, abort, segfault)."""
    KILLED = "killed"
    """SIGKILL from outside the gateway: an operator or the kernel's OOM killer."""
    HUNG = "hung"
    """The watchdog killed it: the batch ran past its deadline or ``max_runtime_s``."""


class Verdict(enum.Enum):
    ANSWERED = "answered"
    """Already answered (its deadline passed while it ran): nothing to do."""
    RETRY_ALONE = "retry_alone"
    """Run it again, alone, on another worker."""
    POISON = "poison"
    """It takes workers down by itself: answer 500, never retry it."""
    TIMED_OUT = "timed_out"
    """It ran alone past ``max_runtime_s``: answer 504."""


def patience(typical_batch_s: float) -> float:
    return max(PATIENCE_FLOOR_S, PATIENCE_FACTOR * typical_batch_s)


def kill_at(taken_at: float, deadlines: Iterable[float | None], max_runtime_s: float,
            typical_batch_s: float) -> float:
    """Loop time at which a batch taken at ``taken_at`` is given up and its worker killed."""
    limit = taken_at + max_runtime_s
    due = [deadline for deadline in deadlines if deadline is not None]
    if due:
        limit = min(limit, max(min(due), taken_at + patience(typical_batch_s)))
    return limit


def verdict(loss: Loss, answered: bool, alone: bool, solo_losses: int) -> Verdict:
    """The fate of one request whose worker was lost.

    ``alone``: it was the only unanswered request of the batch; ``solo_losses``: workers it
    lost before while running alone.
    """
    if answered:
        return Verdict.ANSWERED
    if not alone:
        return Verdict.RETRY_ALONE
    if loss is Loss.HUNG:
        return Verdict.TIMED_OUT
    if loss is Loss.KILLED and solo_losses == 0:
        return Verdict.RETRY_ALONE
    return Verdict.POISON


def loss_of(exitcode: int | None, killed_by_watchdog: bool) -> Loss:
    """Classify a lost worker by its exit status (negative: the signal that ended it)."""
    if killed_by_watchdog:
        return Loss.HUNG
    if exitcode == -9:
        return Loss.KILLED
    return Loss.CRASHED


def overdue_at(taken_at: float, deadlines: Iterable[float | None], max_runtime_s: float,
               typical_batch_s: float) -> float:
    """From when a worker running this batch no longer counts as able to answer (readiness):
    past the batch's earliest deadline, unless batches of this model usually take longer."""
    limit = taken_at + max_runtime_s
    due = [deadline for deadline in deadlines if deadline is not None]
    if due:
        limit = min(limit, max(min(due), taken_at + 2 * typical_batch_s))
    return limit


def can_answer(busy: bool, overdue: float, now: float) -> bool:
    """Whether a ready worker counts for readiness: idle, or busy with a batch not yet overdue."""
    return not busy or now < overdue
