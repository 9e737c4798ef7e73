"""The once-a-second progress line: a snapshot of the recording, formatted as plain text."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ebb.loadgen.client import Outcome
from ebb.loadgen.poller import GaugeReading
from ebb.loadgen.recorder import Recording


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    sent: int
    answered: int
    rejected: int
    failed: int
    """Errors and timeouts."""
    dropped: int
    rate: float
    """Answers per second since the previous snapshot."""
    p99_s: float
    """Over every answer so far."""
    queue_depth: float
    workers_ready: float


class ProgressTracker:
    """Turns the live recording into snapshots; remembers the last one to compute the rate."""

    def __init__(self) -> None:
        self._last_at = 0.0
        self._last_answered = 0

    def snapshot(self, recording: Recording, now: float, gauges: GaugeReading | None
                 ) -> Progress:
        counts = recording.counts
        answered = counts[Outcome.ANSWERED]
        span = now - self._last_at
        rate = (answered - self._last_answered) / span if span > 0 else math.nan
        self._last_at, self._last_answered = now, answered
        p99 = recording.latency.percentile(99)
        return Progress(
            elapsed_s=now, sent=recording.sent, answered=answered,
            rejected=counts[Outcome.REJECTED],
            failed=counts[Outcome.ERROR] + counts[Outcome.TIMEOUT],
            dropped=counts[Outcome.DROPPED], rate=rate, p99_s=p99,
            queue_depth=gauges.queue_depth if gauges else math.nan,
            workers_ready=gauges.ready if gauges else math.nan,
        )


def format_progress(progress: Progress) -> str:
    line = (f"{progress.elapsed_s:6.1f}s  sent {progress.sent}  answered {progress.answered}  "
            f"rejected {progress.rejected}  errors {progress.failed}")
    if progress.dropped:
        line += f"  dropped {progress.dropped}"
    line += f"  rate {progress.rate:.1f}/s  p99 {_ms(progress.p99_s)}"
    if not math.isnan(progress.queue_depth):
        line += f"  queue {progress.queue_depth:.0f}"
    if not math.isnan(progress.workers_ready):
        line += f"  workers {progress.workers_ready:.0f}"
    return line


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.1f} ms"
