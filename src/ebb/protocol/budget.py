"""A memory budget for request bytes in flight, shared by REST and gRPC.

The body limit bounds one request; this bounds all of them at once. Six 60 MB JSON bodies
decoded together cost ~2 GB, so each request reserves what it will hold before its body is
read, and a request that would go over the budget is answered 503 with ``Retry-After`` (gRPC
UNAVAILABLE) instead of pushing the gateway into swap or the OOM killer::

    reservation = budget.reserve(content_length + JSON_EXPANSION * json_length)  # or raises
    try:
        ...                                  # read and decode
        reservation.shrink_to(len(body))     # the parsed document is gone; arrays remain
        ...                                  # infer and answer
    finally:
        reservation.release()

A request is always admitted when nothing else is held, so a request within the body limit is
never refused by a budget smaller than it: the budget decides concurrency, not size.
"""

from __future__ import annotations

from ebb.core.errors import Unavailable

JSON_EXPANSION = 24
"""Peak bytes of Python objects per byte of JSON while orjson parses it (measured: 16x for
small integers, 20x for floats, 24x for short strings)."""


class MemoryBudget:
    """Bytes that requests in flight may hold together; single-threaded (one event loop)."""

    __slots__ = ("held", "limit_bytes", "refused")

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = limit_bytes
        self.held = 0
        self.refused = 0

    def admits(self, size: int) -> bool:
        """Whether ``reserve(size)`` would hold it now; counts nothing."""
        return not self.held or self.held + size <= self.limit_bytes

    def reserve(self, size: int) -> Reservation:
        """Hold ``size`` bytes, or raise ``Unavailable`` (503) when others hold too much."""
        if not self.admits(size):
            self.refused += 1
            raise Unavailable(
                f"the server is holding {self.held >> 20} MiB of request data; this request's "
                f"{max(1, size >> 20)} MiB would exceed --max-inflight-request-mb "
                f"({self.limit_bytes >> 20}); retry shortly", retry_after_s=1.0)
        self.held += size
        return Reservation(self, size)


class Reservation:
    """Bytes one request holds from a ``MemoryBudget``; release exactly once."""

    __slots__ = ("_budget", "size")

    def __init__(self, budget: MemoryBudget, size: int) -> None:
        self._budget = budget
        self.size = size

    def grow(self, extra: int) -> None:
        """Hold ``extra`` more bytes (a chunked body, found to be larger as it arrives)."""
        budget = self._budget
        if budget.held + extra > budget.limit_bytes and budget.held > self.size:
            budget.refused += 1
            raise Unavailable(
                f"the server is holding {budget.held >> 20} MiB of request data; this request "
                f"would exceed --max-inflight-request-mb ({budget.limit_bytes >> 20}); retry "
                "shortly", retry_after_s=1.0)
        budget.held += extra
        self.size += extra

    def shrink_to(self, size: int) -> None:
        if size < self.size:
            self._budget.held -= self.size - size
            self.size = size

    def release(self) -> None:
        self._budget.held -= self.size
        self.size = 0
