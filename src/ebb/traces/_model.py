"""The one shape every trace source produces, and the error every source raises."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
Spacing = Literal["poisson", "uniform"]


class TraceError(ValueError):
    """A trace file or a generator's knobs do not describe arrivals; the message says where."""


@dataclass(frozen=True, eq=False)
class Trace:
    """Arrival offsets (seconds from 0, sorted) and optional per-request sizes.

    `duration_s` is the span the trace covers, at least the last arrival: a profile that ends
    in silence keeps its silent tail, which matters to scale-in.
    """

    arrivals: FloatArray
    sizes: FloatArray | None
    """Per-request size (tokens for LLM traces), same length as arrivals; None when unknown."""
    name: str
    credit: str | None
    """Attribution to show wherever the trace or results derived from it are shown."""
    duration_s: float

    def __post_init__(self) -> None:
        if self.arrivals.ndim != 1:
            raise TraceError(f"{self.name}: arrivals must be one-dimensional")
        if self.sizes is not None and self.sizes.shape != self.arrivals.shape:
            raise TraceError(f"{self.name}: {len(self.sizes)} sizes for "
                             f"{len(self.arrivals)} arrivals")
        if len(self.arrivals):
            if self.arrivals[0] < 0 or bool(np.any(np.diff(self.arrivals) < 0)):
                raise TraceError(f"{self.name}: arrivals must be sorted and not negative")
            if self.duration_s < self.arrivals[-1]:
                raise TraceError(f"{self.name}: duration {self.duration_s} s ends before the "
                                 f"last arrival at {self.arrivals[-1]} s")
        if self.duration_s < 0 or not math.isfinite(self.duration_s):
            raise TraceError(f"{self.name}: duration must be finite and not negative")

    def __len__(self) -> int:
        return len(self.arrivals)

    @property
    def mean_rate(self) -> float:
        """Requests per second over the whole trace."""
        return len(self.arrivals) / self.duration_s if self.duration_s > 0 else 0.0
