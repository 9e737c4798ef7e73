"""The watchdog's decisions, tick by tick with made-up times (no processes)."""

from __future__ import annotations

from ebb.serving.watchdog import (
    PATIENCE_FLOOR_S,
    Loss,
    Verdict,
    can_answer,
    kill_at,
    loss_of,
    overdue_at,
    verdict,
)


def test_a_batch_is_given_up_at_its_earliest_deadline_after_some_patience() -> None:
    assert kill_at(10.0, [15.0, 40.0], max_runtime_s=60, typical_batch_s=0.02) == 15.0
    # a tight deadline cannot kill a worker doing normal work: the floor, or 10x usual time
    assert kill_at(10.0, [10.01], max_runtime_s=60, typical_batch_s=0.02) == 10 + PATIENCE_FLOOR_S
    assert kill_at(10.0, [10.01], max_runtime_s=60, typical_batch_s=0.5) == 15.0


def test_the_runtime_limit_holds_with_or_without_deadlines() -> None:
    assert kill_at(10.0, [None, None], max_runtime_s=3, typical_batch_s=0.02) == 13.0
    assert kill_at(10.0, [100.0], max_runtime_s=3, typical_batch_s=0.02) == 13.0
    assert kill_at(10.0, [10.5], max_runtime_s=0.2, typical_batch_s=5) == 10.2


def test_a_worker_stops_counting_for_readiness_once_its_batch_is_overdue() -> None:
    due = overdue_at(10.0, [12.0], max_runtime_s=60, typical_batch_s=0.02)
    assert due == 12.0
    assert can_answer(busy=True, overdue=due, now=11.9)
    assert not can_answer(busy=True, overdue=due, now=12.0)
    assert can_answer(busy=False, overdue=due, now=99.0)
    # batches that usually take longer than a client's deadline are not "stuck"
    assert overdue_at(10.0, [10.1], max_runtime_s=60, typical_batch_s=1.0) == 12.0


def test_a_batch_that_lost_its_worker_is_split_and_the_lone_culprit_is_poison() -> None:
    for loss in Loss:
        assert verdict(loss, answered=False, alone=False, solo_losses=0) is Verdict.RETRY_ALONE
        assert verdict(loss, answered=True, alone=True, solo_losses=0) is Verdict.ANSWERED
    assert verdict(Loss.CRASHED, answered=False, alone=True, solo_losses=0) is Verdict.POISON
    assert verdict(Loss.HUNG, answered=False, alone=True, solo_losses=0) is Verdict.TIMED_OUT


def test_an_outside_sigkill_gets_one_more_try_before_poison() -> None:
    assert verdict(Loss.KILLED, answered=False, alone=True, solo_losses=0) is Verdict.RETRY_ALONE
    assert verdict(Loss.KILLED, answered=False, alone=True, solo_losses=1) is Verdict.POISON


def test_loss_from_exit_status() -> None:
    assert loss_of(-9, killed_by_watchdog=False) is Loss.KILLED
    assert loss_of(-9, killed_by_watchdog=True) is Loss.HUNG
    assert loss_of(-11, killed_by_watchdog=False) is Loss.CRASHED
    assert loss_of(70, killed_by_watchdog=False) is Loss.CRASHED
