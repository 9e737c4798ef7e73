"""Which workers to drain when a model scales in: the one rule the worker pool and the simulator
share, as a pure function of what each candidate is doing.

Starting workers go first (they serve nobody yet and cost the most to keep waiting), then idle
ones, then busy ones (they finish the batch in hand before stopping); within each group the
newest goes first, so the longest-lived workers stay.

    chosen = choose_to_drain([DrainCandidate(False, True, 3.0), DrainCandidate(True, False, 9.0)],
                             1)                    # [1]: the starting worker
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DrainCandidate:
    """A worker that is starting or ready (draining and stopped workers are not candidates)."""

    starting: bool
    """Ordered but not ready yet (process starting, model loading)."""
    busy: bool
    """Ready and running a batch; it finishes the batch before it stops."""
    created: float
    """When the worker was ordered, or its place in the order of creation: larger is newer."""


def _drain_key(candidate: DrainCandidate) -> tuple[bool, bool, float]:
    return not candidate.starting, candidate.busy, -candidate.created


def choose_to_drain(candidates: Sequence[DrainCandidate], count: int) -> list[int]:
    """Indices into `candidates` of the (at most `count`) workers to drain, in drain order:
    starting first, then idle, then busy; newest first within each. Candidates alike in all
    three keep their order in `candidates`."""
    if count <= 0:
        return []
    order = sorted(range(len(candidates)), key=lambda i: _drain_key(candidates[i]))
    return order[:count]
