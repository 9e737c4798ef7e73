from __future__ import annotations

import pytest

from ebb.serving.batching import BatchPolicy, flush_deadline, flush_due, take_count

POLICY = BatchPolicy(max_batch_size=8, max_delay_s=0.005)


def test_flushes_when_full_even_before_the_delay() -> None:
    assert flush_due(POLICY, rows_waiting=8, oldest_enqueued_at=10.0, now=10.0)


def test_waits_for_companions_until_the_delay_runs_out() -> None:
    assert not flush_due(POLICY, rows_waiting=3, oldest_enqueued_at=10.0, now=10.004)
    assert flush_due(POLICY, rows_waiting=3, oldest_enqueued_at=10.0, now=10.005)
    assert flush_deadline(POLICY, 10.0) == pytest.approx(10.005)


def test_batching_off_flushes_every_request_alone() -> None:
    off = BatchPolicy(max_batch_size=1, max_delay_s=0.005)
    assert flush_due(off, rows_waiting=1, oldest_enqueued_at=0.0, now=0.0)
    assert take_count(off, [1, 1, 1]) == 1


def test_take_count_fills_rows_without_splitting_a_request() -> None:
    assert take_count(POLICY, [1] * 20) == 8
    assert take_count(POLICY, [3, 3, 3]) == 2
    assert take_count(POLICY, [20, 1]) == 1  # an oversized request still goes, alone


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        BatchPolicy(max_batch_size=0, max_delay_s=0)
    with pytest.raises(ValueError):
        BatchPolicy(max_batch_size=1, max_delay_s=-1)
