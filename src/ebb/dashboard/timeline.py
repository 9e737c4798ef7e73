"""A bounded per-second timeline of serving signals, and the latency reservoir that feeds it."""

from __future__ import annotations

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


class LatencyReservoir:
    """Durations of the requests answered since the last sample; cheap to feed per request."""

    def __init__(self) -> None:
        self._durations: list[float] = []
        self.errors = 0
        self.answers = 0

    def add(self, seconds: float, status: int) -> None:
        self._durations.append(seconds)
        self.answers += 1
        if status >= 500:
            self.errors += 1

    def drain(self) -> tuple[float, float, int, int]:
        """(p50 ms, p99 ms, answers, errors) since the last call, then start afresh."""
        durations, answers, errors = self._durations, self.answers, self.errors
        self._durations, self.answers, self.errors = [], 0, 0
        if not durations:
            return 0.0, 0.0, answers, errors
        p50, p99 = np.percentile(np.asarray(durations), [50, 99]) * 1000
        return float(p50), float(p99), answers, errors


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
