"""One bounded queue per model, from which idle workers take batches.

Requests that can share a batch (same input names, datatypes and non-batch dimensions) form a
group; the oldest request decides which group goes next. Workers wait on a future, woken by new
arrivals or by a timer at the oldest group's flush time, never by polling. An idle worker takes
what waits at once unless rows keep arriving (their rate is measured here), and never later
than the batch delay (``ebb.serving.batching.idle_flush_at``). A full queue
refuses at once. A request's deadline timer runs until it is answered: past its deadline it
leaves with 504 whether it is still waiting or already running in a worker (the watchdog in
``ebb.serving.workers`` then deals with the worker). Requests whose batch lost its worker come
back "alone": each is handed out as a batch of its own, ahead of the others, so that the one
that crashed a worker can be told apart from the innocent ones.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from itertools import count, islice

from ebb.core.errors import DeadlineExceeded, Unavailable
from ebb.core.types import InferRequest
from ebb.serving.batching import BatchPolicy, idle_flush_at, next_gap_per_row, take_count

_sequence = count()


class Pending:
    """A request admitted to the queue, waiting for its answer."""

    __slots__ = ("alone", "batch_size", "deadline", "enqueued_at", "future", "inference_s",
                 "queued", "request", "rows", "sequence", "signature", "solo_losses", "taken_at",
                 "timer")

    def __init__(self, request: InferRequest, rows: int, signature: Hashable,
                 future: asyncio.Future[object]) -> None:
        self.request = request
        self.rows = rows
        self.signature = signature
        self.future = future
        self.enqueued_at = 0.0
        self.deadline: float | None = None
        """Loop time after which it is answered 504; None: no deadline."""
        self.alone = False
        """Run it in a batch of its own (its last batch lost its worker)."""
        self.solo_losses = 0
        """Workers lost while it ran alone."""
        self.queued = False
        self.sequence = next(_sequence)
        self.timer: asyncio.TimerHandle | None = None
        self.taken_at = 0.0
        """Loop time a worker took the batch that answered it (set by the worker)."""
        self.batch_size = 0
        """Requests in that batch; 0 until a worker answers it."""
        self.inference_s = 0.0
        """Worker time of that batch."""


@dataclass
class _Group:
    items: deque[Pending] = field(default_factory=deque)
    rows: int = 0


class ModelQueue:
    def __init__(self, policy: BatchPolicy, max_size: int, retry_after_s: float = 1.0) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.policy = policy
        self.max_size = max_size
        self.retry_after_s = retry_after_s
        self._groups: dict[Hashable, _Group] = {}
        self._solo: deque[Pending] = deque()
        self._depth = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._gap_per_row_s = math.inf
        """Moving average of the time between arriving rows (``next_gap_per_row``)."""
        self._last_arrival_at = -math.inf
        self.rejected = 0
        """Requests refused because the queue was full."""
        self.expired = 0
        """Requests whose deadline passed before they were answered (504)."""

    @property
    def depth(self) -> int:
        """Requests admitted and not yet taken by a worker."""
        return self._depth

    def put(self, pending: Pending, deadline: float | None) -> None:
        """Admit a request or refuse it at once (``Unavailable``) when the queue is full."""
        if self._closed:
            raise Unavailable("server is shutting down", self.retry_after_s)
        if self._depth >= self.max_size:
            self.rejected += 1
            raise Unavailable(
                f"queue full ({self.max_size} requests waiting); retry later", self.retry_after_s
            )
        loop = asyncio.get_running_loop()
        pending.enqueued_at = now = loop.time()
        if self._last_arrival_at > -math.inf:
            self._gap_per_row_s = next_gap_per_row(self._gap_per_row_s,
                                                   now - self._last_arrival_at, pending.rows)
        self._last_arrival_at = now
        pending.deadline = deadline
        if deadline is not None:
            pending.timer = loop.call_at(deadline, self._expire, pending)
        self._append(pending)
        self._wake_one()

    def requeue_alone(self, items: Iterable[Pending]) -> None:
        """Put requests back at the head of the queue, each to run as a batch of its own (their
        worker died before answering); their deadline timers still run."""
        for pending in sorted(items, key=lambda item: item.sequence, reverse=True):
            pending.alone = True
            pending.queued = True
            self._solo.appendleft(pending)
            self._depth += 1
        if self._solo:
            self._wake_one()

    def _append(self, pending: Pending) -> None:
        group = self._groups.get(pending.signature)
        if group is None:
            group = self._groups[pending.signature] = _Group()
        group.items.append(pending)
        group.rows += pending.rows
        pending.queued = True
        self._depth += 1

    def _remove(self, pending: Pending) -> None:
        self._depth -= 1
        pending.queued = False
        if pending.alone:
            self._solo.remove(pending)
            return
        group = self._groups[pending.signature]
        group.items.remove(pending)
        group.rows -= pending.rows
        if not group.items:
            del self._groups[pending.signature]

    def _expire(self, pending: Pending) -> None:
        if pending.future.done():
            return
        waiting = pending.queued
        if waiting:
            self._remove(pending)
        self.expired += 1
        waited = asyncio.get_running_loop().time() - pending.enqueued_at
        where = "waiting in the queue" if waiting else "without an answer from the model"
        pending.future.set_exception(DeadlineExceeded(
            f"request deadline passed after {waited * 1000:.0f} ms {where}"))

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def take_ready_batch(self, now: float) -> list[Pending] | None:
        """The next batch for an idle worker if one is due now: a request to run alone first,
        then a full group, else the oldest group when ``idle_flush_at`` says it should leave."""
        if self._solo:
            pending = self._solo.popleft()
            pending.queued = False
            self._depth -= 1
            return [pending]
        chosen: _Group | None = None
        for group in self._groups.values():
            if group.rows >= self.policy.max_batch_size:
                chosen = group
                break
        if chosen is None:
            oldest = self._oldest_group()
            if oldest is None or self._flush_at(oldest, now) > now:
                return None
            chosen = oldest
        taken = take_count(self.policy, (item.rows for item in chosen.items))
        batch = [chosen.items.popleft() for _ in range(taken)]
        for pending in batch:
            chosen.rows -= pending.rows
            pending.queued = False
        self._depth -= taken
        if not chosen.items:
            del self._groups[batch[0].signature]
        return batch

    def _oldest_group(self) -> _Group | None:
        if len(self._groups) == 1:
            return next(iter(self._groups.values()))
        return min(self._groups.values(), key=lambda g: g.items[0].sequence, default=None)

    def _flush_at(self, group: _Group, now: float) -> float:
        return idle_flush_at(self.policy, group.rows, group.items[0].enqueued_at, now,
                             self._gap_per_row_s, self._last_arrival_at)

    def next_flush_at(self, now: float) -> float | None:
        """When an idle worker should look again if no request arrives meanwhile."""
        oldest = self._oldest_group()
        if oldest is None:
            return None
        return self._flush_at(oldest, now)

    async def next_batch(self) -> list[Pending]:
        """Wait until a batch is due and take it. Cancelling the wait loses no request."""
        loop = asyncio.get_running_loop()
        while True:
            batch = self.take_ready_batch(loop.time())
            if batch is not None:
                if self._depth:
                    self._wake_one()
                return batch
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            wake_at = self.next_flush_at(loop.time())
            timer = loop.call_at(wake_at, _resolve, waiter) if wake_at is not None else None
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()
                raise
            finally:
                if timer is not None:
                    timer.cancel()

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Refuse new requests from now on with 503 "server is shutting down" (a shutdown is
        not load: not counted as a rejection); requests already admitted are still served."""
        self._closed = True

    def drain_all(self, error: Exception) -> int:
        """Fail every waiting request (shutdown); returns how many."""
        self._closed = True
        failed = 0
        for pending in self._waiting():
            pending.queued = False
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.future.done():
                pending.future.set_exception(error)
                failed += 1
        self._groups.clear()
        self._solo.clear()
        self._depth = 0
        return failed

    def _waiting(self) -> list[Pending]:
        return [*self._solo, *(item for group in self._groups.values() for item in group.items)]

    def peek(self, limit: int) -> list[Pending]:
        """Up to ``limit`` waiting requests, for diagnostics and tests."""
        return [*islice(self._solo, limit),
                *(item for group in self._groups.values() for item in islice(group.items, limit))]


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
