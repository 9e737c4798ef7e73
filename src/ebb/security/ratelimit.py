"""Token buckets: ``take`` is a pure function of the bucket, the limit and the time; ``Buckets``
keeps one per client (a key id, or a client address when auth is off) in bounded memory.

    bucket, wait_s = take(None, Limit(rate=5, burst=10), now=0.0)   # a new bucket starts full
    if wait_s: reject with 429 and Retry-After: ceil(wait_s)
"""

from __future__ import annotations

from dataclasses import dataclass

from ebb.core.clock import Clock

_EPSILON = 1e-9


@dataclass(frozen=True)
class Limit:
    rate: float
    """Tokens added per second."""
    burst: float
    """Bucket size: requests allowed back to back after a quiet spell."""


@dataclass(frozen=True)
class Bucket:
    tokens: float
    at: float


def limit_of(rate: float | None, burst: float | None) -> Limit | None:
    """A limit from a rate and an optional burst (default: one second's worth, at least 1)."""
    if rate is None:
        return None
    return Limit(rate, burst if burst is not None else max(1.0, rate))


def take(bucket: Bucket | None, limit: Limit, now: float) -> tuple[Bucket, float]:
    """Take one token: (the new bucket, 0.0) when allowed; else (the bucket, seconds until a
    token is there). Time going backwards adds nothing."""
    if bucket is None:
        tokens = limit.burst
    else:
        tokens = min(limit.burst, bucket.tokens + max(0.0, now - bucket.at) * limit.rate)
    if tokens >= 1.0 - _EPSILON:  # refills summed in floating point fall short by ulps
        return Bucket(max(0.0, tokens - 1.0), now), 0.0
    return Bucket(tokens, now), (1.0 - tokens) / limit.rate


def is_full(bucket: Bucket, limit: Limit, now: float) -> bool:
    """A full bucket is the same as no bucket: it can be forgotten."""
    return bucket.tokens + max(0.0, now - bucket.at) * limit.rate >= limit.burst


class Buckets:
    """One bucket per client name, at most `capacity` of them: when over, full buckets are
    dropped first (they are equivalent to new ones), then the oldest."""

    def __init__(self, clock: Clock, capacity: int = 10_000) -> None:
        self._clock = clock
        self._capacity = capacity
        self._buckets: dict[str, tuple[Bucket, Limit]] = {}

    def take(self, client: str, limit: Limit) -> float:
        """0.0 when the request may go, else the seconds to wait."""
        now = self._clock.now()
        found = self._buckets.get(client)
        bucket, wait_s = take(found[0] if found else None, limit, now)
        if found is None and len(self._buckets) >= self._capacity:
            self._evict(now)
        self._buckets[client] = (bucket, limit)
        return wait_s

    def _evict(self, now: float) -> None:
        for name, (bucket, limit) in list(self._buckets.items()):
            if is_full(bucket, limit, now):
                del self._buckets[name]
        while len(self._buckets) >= self._capacity:
            del self._buckets[next(iter(self._buckets))]

    def __len__(self) -> int:
        return len(self._buckets)
