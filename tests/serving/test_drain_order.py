"""The drain-order rule the worker pool and the simulator share."""

from __future__ import annotations

from ebb.serving.drain_order import DrainCandidate, choose_to_drain


def test_starting_then_idle_then_busy_newest_first() -> None:
    candidates = [DrainCandidate(False, True, 1.0), DrainCandidate(False, False, 2.0),
                  DrainCandidate(True, False, 3.0), DrainCandidate(False, False, 4.0),
                  DrainCandidate(True, False, 5.0), DrainCandidate(False, True, 6.0)]
    assert choose_to_drain(candidates, 6) == [4, 2, 3, 1, 5, 0]
    assert choose_to_drain(candidates, 3) == [4, 2, 3]


def test_nothing_to_drain() -> None:
    assert choose_to_drain([DrainCandidate(True, False, 1.0)], 0) == []
    assert choose_to_drain([], 3) == []


def test_alike_candidates_keep_their_order() -> None:
    alike = [DrainCandidate(False, False, 7.0)] * 3
    assert choose_to_drain(alike, 2) == [0, 1]
