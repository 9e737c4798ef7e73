"""A bounded per-second timeline of serving signals, and the latency reservoir that feeds it."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class Sample:
    t: float
    """Seconds since the server started."""
    arrival_rate: float
    answer_rate: float
    error_rate: float
    """Answers per second with a 5xx status."""
    rejection_rate: float
    queue_depth: int
    inflight: int
    ready: int
    starting: int
    desired: int
    p50_ms: float
    p99_ms: float


@dataclass(frozen=True, slots=True)
class Drained:
    p50_ms: float
    """NaN when nothing was answered."""
    p99_ms: float
    answers: int
    errors: int
    mean_queue_wait_s: float
    """NaN when no batch finished."""


class LatencyReservoir:
    """Durations of the requests answered since the last sample; cheap to feed per request."""

    def __init__(self) -> None:
        self._durations: list[float] = []
        self.errors = 0
        self.answers = 0
        self._wait_sum = 0.0
        self._waits = 0

    def add(self, seconds: float, status: int) -> None:
        self._durations.append(seconds)
        self.answers += 1
        if status >= 500:
            self.errors += 1

    def add_waits(self, waits: list[float]) -> None:
        self._wait_sum += sum(waits)
        self._waits += len(waits)

    def drain(self) -> Drained:
        """What happened since the last call; then start afresh."""
        durations, answers, errors = self._durations, self.answers, self.errors
        mean_wait = self._wait_sum / self._waits if self._waits else math.nan
        self._durations, self.answers, self.errors = [], 0, 0
        self._wait_sum, self._waits = 0.0, 0
        if not durations:
            return Drained(math.nan, math.nan, answers, errors, mean_wait)
        p50, p99 = np.percentile(np.asarray(durations), [50, 99]) * 1000
        return Drained(float(p50), float(p99), answers, errors, mean_wait)


class Timeline:
    def __init__(self, seconds: int = 600) -> None:
        self.samples: deque[Sample] = deque(maxlen=seconds)

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def to_json(self) -> dict[str, list[Any]]:
        """Column-wise, which is what charts want and what compresses best."""
        columns: dict[str, list[Any]] = {}
        for sample in self.samples:
            for key, value in asdict(sample).items():
                columns.setdefault(key, []).append(round(value, 3)
                                                   if isinstance(value, float) else value)
        return columns
