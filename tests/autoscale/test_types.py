"""The scaling seam's own rules."""

from __future__ import annotations

import pytest

from ebb.autoscale.types import ScalingDecision, hold
from tests.autoscale.signals import signal


def test_concurrency_is_waiting_plus_in_flight() -> None:
    assert signal(0, 2, queue=5, inflight=3).concurrency == 8


def test_hold_keeps_the_current_count() -> None:
    assert hold(signal(0, 4), "why").desired_workers == 4


def test_signals_and_decisions_reject_impossible_values() -> None:
    with pytest.raises(ValueError, match="queue_depth"):
        signal(0, 1, queue=-1)
    with pytest.raises(ValueError, match="unreported_workers"):
        signal(0, 2, unreported=3)
    with pytest.raises(ValueError, match="slo_s"):
        signal(0, 1, slo=0)
    with pytest.raises(ValueError, match="desired_workers"):
        ScalingDecision(-1, "no")
