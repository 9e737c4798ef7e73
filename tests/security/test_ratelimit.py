"""Token buckets on a fake clock: burst, refill, retry hints, bounded memory."""

from __future__ import annotations

import pytest

from ebb.core.clock import FakeClock
from ebb.security.ratelimit import Bucket, Buckets, Limit, limit_of, take


def test_a_new_bucket_allows_a_burst_then_waits_for_tokens() -> None:
    limit = Limit(rate=2.0, burst=3.0)
    bucket = None
    for _ in range(3):
        bucket, wait_s = take(bucket, limit, now=10.0)
        assert wait_s == 0.0
    bucket, wait_s = take(bucket, limit, now=10.0)
    assert wait_s == pytest.approx(0.5)
    bucket, wait_s = take(bucket, limit, now=10.25)
    assert wait_s == pytest.approx(0.25)
    bucket, wait_s = take(bucket, limit, now=10.5)
    assert wait_s == 0.0


def test_refill_stops_at_the_burst_and_time_going_back_adds_nothing() -> None:
    limit = Limit(rate=1.0, burst=2.0)
    bucket, _ = take(Bucket(0.0, 0.0), limit, now=1000.0)
    assert bucket.tokens == pytest.approx(1.0)
    bucket, wait_s = take(Bucket(0.0, 5.0), limit, now=4.0)
    assert wait_s == pytest.approx(1.0)


def test_steady_rate_is_what_the_limit_says() -> None:
    clock = FakeClock()
    buckets = Buckets(clock)
    limit = Limit(rate=10.0, burst=1.0)
    allowed = 0
    for _ in range(1000):  # 100 requests/s offered for 10 s
        allowed += buckets.take("k", limit) == 0.0
        clock.advance(0.01)
    assert allowed == pytest.approx(100, abs=2)


def test_limit_of_defaults_burst_to_a_second_of_rate() -> None:
    assert limit_of(None, None) is None
    assert limit_of(5.0, None) == Limit(5.0, 5.0)
    assert limit_of(0.2, None) == Limit(0.2, 1.0)
    assert limit_of(5.0, 2.0) == Limit(5.0, 2.0)


def test_buckets_are_per_client_and_memory_is_bounded() -> None:
    clock = FakeClock()
    buckets = Buckets(clock, capacity=100)
    limit = Limit(rate=1.0, burst=1.0)
    assert buckets.take("a", limit) == 0.0
    assert buckets.take("a", limit) > 0.0
    assert buckets.take("b", limit) == 0.0  # another client has its own bucket
    for client in range(1000):
        buckets.take(f"c{client}", limit)
    assert len(buckets) <= 100
    clock.advance(5)
    buckets.take("new", limit)  # every bucket refilled: all are forgotten at once
    assert len(buckets) == 1
