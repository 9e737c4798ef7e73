"""What happens to a batch whose worker was lost: retried alone, answered 504, or poison.

The decisions are ``ebb.serving.watchdog.verdict``'s; this module carries them out on the
requests' futures and the queue, counts them and logs each poison request once, by request id.
A poison answer is a 500 (gRPC INTERNAL) without Retry-After: retrying it would take another
worker down.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Sequence

from ebb.core.errors import DeadlineExceeded, ModelError
from ebb.serving.queue import ModelQueue, Pending
from ebb.serving.stats import ModelStats
from ebb.serving.watchdog import Loss, Verdict, verdict

log = logging.getLogger("ebb.workers")


def settle_lost_batch(model: str, batch: Sequence[Pending], loss: Loss, exitcode: int | None,
                      queue: ModelQueue, stats: ModelStats, max_runtime_s: float) -> int:
    """Answer or requeue every request of ``batch``; returns how many were requeued."""
    alone = len(batch) == 1
    retry = []
    for item in batch:
        fate = verdict(loss, item.future.done(), alone, item.solo_losses)
        if alone:
            item.solo_losses += 1
        if fate is Verdict.RETRY_ALONE:
            retry.append(item)
        elif fate is Verdict.POISON:
            stats.poison_requests += 1
            _answer(item, ModelError(
                f"this request made model {model}'s worker process die ({describe(exitcode)}); "
                "it was not retried, and retrying it would fail the same way"))
            log.error("model %s: request %s made its worker die (%s) while running alone; "
                      "answered 500 (poison), not retried", model, item.request.id or "(no id)",
                      describe(exitcode))
        elif fate is Verdict.TIMED_OUT:
            _answer(item, DeadlineExceeded(
                f"model {model} ran this request for more than {max_runtime_s:g} s "
                "(--max-batch-runtime-s); its worker was stopped"))
    queue.requeue_alone(retry)
    return len(retry)


def describe(exitcode: int | None) -> str:
    if exitcode is None:
        return "exit status unknown"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def _answer(item: Pending, error: Exception) -> None:
    if item.timer is not None:
        item.timer.cancel()
    if not item.future.done():
        item.future.set_exception(error)
