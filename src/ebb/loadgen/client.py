"""The one seam between the load generator and a server: send one request, name its outcome.

A client is built once per run around a fixed request (the body is encoded once, not per send)
and is called concurrently by the dispatcher. ``FakeClient`` is an in-memory server with a fixed
service time, a number of parallel slots and a bounded queue; tests and examples use it to drive
the dispatcher without processes or sockets::

    client = FakeClient(service_s=0.01, slots=1, max_queue=5)
    outcome, detail = await client.infer(timeout_s=1.0)
"""

from __future__ import annotations

import asyncio
import enum
from typing import Protocol


class Outcome(enum.IntEnum):
    """What happened to one scheduled arrival. The values are stored in numpy arrays."""

    PENDING = 0
    """Sent, no answer yet (only while the run is going on)."""
    ANSWERED = 1
    REJECTED = 2
    """The server refused it at once as overloaded: HTTP 503 or gRPC UNAVAILABLE."""
    TIMEOUT = 3
    """No answer within the per-request timeout (or the server's 504/DEADLINE_EXCEEDED)."""
    ERROR = 4
    """Any other failure: a 4xx/5xx answer, a broken connection, a malformed reply."""
    DROPPED = 5
    """Never sent: the cap on outstanding requests was reached at its arrival time."""


class InferClient(Protocol):
    """Sends the run's request once per call; safe to call concurrently."""

    async def infer(self, timeout_s: float) -> tuple[Outcome, str]:
        """The outcome and, for anything but ANSWERED, a short human-readable reason."""
        ...

    async def close(self) -> None: ...


class FakeClient:
    """A simulated server: ``slots`` requests served in parallel, each taking ``service_s``;
    up to ``max_queue`` more wait; beyond that a request is REJECTED at once."""

    def __init__(self, service_s: float, slots: int, max_queue: int) -> None:
        self._service_s = service_s
        self._slots = asyncio.Semaphore(slots)
        self._capacity = slots + max_queue
        self._present = 0
        self.calls = 0

    async def infer(self, timeout_s: float) -> tuple[Outcome, str]:
        self.calls += 1
        if self._present >= self._capacity:
            return Outcome.REJECTED, "queue full"
        self._present += 1
        try:
            async with asyncio.timeout(timeout_s), self._slots:
                await asyncio.sleep(self._service_s)
            return Outcome.ANSWERED, ""
        except TimeoutError:
            return Outcome.TIMEOUT, f"no answer in {timeout_s:g} s"
        finally:
            self._present -= 1

    async def close(self) -> None:
        return None
