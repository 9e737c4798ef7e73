"""``InferenceLog``: the hook that buffers records and the loop that writes them.

    log = InferenceLog(store, LogOptions("none", 1.0, 10_000, 0.0))
    QueueDispatcher(models, hooks=(log.hook,))
    background.spawn(log.run(background.stopping), "inference log")
    ...                     # serve; after the last request is answered:
    await log.close()       # write what is still buffered, then disconnect

The hook runs in the request's path, so it only samples and appends to a bounded deque: when
the deque is full the record is dropped and counted, never the request delayed. The loop takes
batches off the deque, turns them into rows (in a thread when payloads are hashed or copied) and
hands them to the store. While the database is out of reach the rows stay buffered (up to the
bound) and the loop reconnects with exponential backoff; drops are logged once per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass

from ebb.core.dispatch import InferenceRecord
from ebb.core.types import InferRequest
from ebb.inference_log.backoff import backoff_delay
from ebb.inference_log.base import LogStore, StoreUnavailable
from ebb.inference_log.rows import Capture, request_rows_off_loop
from ebb.inference_log.sampling import Sampler
from ebb.metrics.inference_log import LogCounts

log = logging.getLogger("ebb.inference_log")


class Refused(Exception):
    """The error a refused inference is logged with: the message the client got."""


@dataclass(frozen=True, slots=True)
class LogOptions:
    capture: Capture
    sample: float
    buffer: int
    """Records held in memory at most; more are dropped."""
    retention_days: float
    """Rows older than this are deleted in the background; 0 keeps them forever."""
    batch_size: int = 1000
    flush_interval_s: float = 0.1
    drop_report_interval_s: float = 10.0
    prune_interval_s: float = 3600.0
    shutdown_flush_s: float = 10.0


class InferenceLog:
    def __init__(self, store: LogStore, options: LogOptions, where: str) -> None:
        self.store = store
        self.options = options
        self.where = where
        """The database, as shown in log lines (no password)."""
        self.written = 0
        self.dropped = 0
        self._buffer: deque[InferenceRecord] = deque()
        self._bound = options.buffer
        self._sampler = Sampler(options.sample)
        self._everything = self._sampler.everything
        self._connected = False
        self._failures = 0
        self._down_since: float | None = None
        self._reported_drops = 0

    def hook(self, record: InferenceRecord) -> None:
        """The ``InferenceHook``: sample, then buffer or count a drop. Never blocks."""
        if not (self._everything or self._sampler.take()):
            return
        if len(self._buffer) < self._bound:
            self._buffer.append(record)
        else:
            self.dropped += 1

    def refused(self, model: str | None, status: int, message: str, protocol: str,
                key_id: str | None) -> None:
        """Log an inference the auth gate refused (401, 403, 429) like an answered one, with
        no tensors, the version empty and ``message`` as its error (gate messages never hold
        the presented secret). Sampled the same way, but buffered only while the buffer is
        less than half full: a flood of clients without keys cannot crowd out the records of
        the requests the server answered (its excess is dropped and counted)."""
        if not (self._everything or self._sampler.take()):
            return
        if len(self._buffer) >= self._bound // 2:
            self.dropped += 1
            return
        self._buffer.append(InferenceRecord(InferRequest(model or "", ()), None,
                                            Refused(message), status, time.time(), 0.0, 0.0,
                                            0.0, 0, protocol, key_id))

    def counts(self) -> LogCounts:
        return LogCounts(self.written, self.dropped, len(self._buffer))

    async def run(self, stopping: asyncio.Event) -> None:
        """Write batches until ``stopping``; ``close`` writes what is left after that."""
        loop = asyncio.get_running_loop()
        next_prune = next_report = loop.time()
        while not stopping.is_set():
            now = loop.time()
            if now >= next_report:
                self._report_drops()
                next_report = now + self.options.drop_report_interval_s
            if not await self._ready():
                await _wait(stopping, backoff_delay(self._failures))
                continue
            if self.options.retention_days > 0 and now >= next_prune:
                await self._prune()
                next_prune = now + self.options.prune_interval_s
            if self._buffer and not await self._write_batch():
                await _wait(stopping, backoff_delay(self._failures))
            elif len(self._buffer) < self.options.batch_size:
                await _wait(stopping, self.options.flush_interval_s)

    async def close(self) -> None:
        """Write everything buffered (retrying for up to ``shutdown_flush_s``), then disconnect."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.shutdown_flush_s
        while self._buffer and loop.time() < deadline:
            if not (await self._ready() and await self._write_batch()):
                await asyncio.sleep(min(backoff_delay(self._failures),
                                        max(deadline - loop.time(), 0.0)))
        if self._buffer:
            lost = len(self._buffer)
            self.dropped += lost
            self._buffer.clear()
            log.error("inference log: %d records not written at shutdown: %s is unavailable",
                      lost, self.where)
        self._report_drops()
        await self.store.close()
        self._connected = False

    async def _ready(self) -> bool:
        """Connected, or connected now; False (and the failure noted) when it cannot be."""
        if self._connected:
            return True
        try:
            await self.store.connect()
        except StoreUnavailable as error:
            self._unavailable(error)
            return False
        self._connected = True
        if self._down_since is not None:
            log.warning("inference log: %s reachable again after %.1f s; writing %d buffered "
                        "records", self.where, time.monotonic() - self._down_since,
                        len(self._buffer))
        self._failures, self._down_since = 0, None
        return True

    async def _write_batch(self) -> bool:
        """Write one batch; False when the store is unavailable (the batch is kept)."""
        size = min(len(self._buffer), self.options.batch_size)
        batch = [self._buffer.popleft() for _ in range(size)]
        try:
            await self.store.write(await request_rows_off_loop(batch, self.options.capture))
        except StoreUnavailable as error:
            self._buffer.extendleft(reversed(batch))
            self._connected = False  # the store reconnects (or its pool does) on connect()
            self._unavailable(error)
            return False
        except Exception:
            self.dropped += size
            log.exception("inference log: %d records refused by %s; dropped", size, self.where)
            return True
        self.written += size
        return True

    def _unavailable(self, error: StoreUnavailable) -> None:
        self._failures += 1
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("inference log: %s unavailable (%s); buffering up to %d records and "
                        "reconnecting with backoff; inference is unaffected", self.where, error,
                        self._bound)
        else:
            log.debug("inference log: still unavailable: %s", error)

    async def _prune(self) -> None:
        before = time.time() - self.options.retention_days * 86_400
        try:
            pruned = await self.store.prune(before)
        except StoreUnavailable as error:
            self._connected = False
            self._unavailable(error)
            return
        except Exception:
            log.exception("inference log: pruning %s failed; will try again", self.where)
            return
        if pruned:
            log.info("inference log: pruned %d requests older than %g days", pruned,
                     self.options.retention_days)

    def _report_drops(self) -> None:
        """One line per interval with drops, however many records were dropped in it."""
        new = self.dropped - self._reported_drops
        if new > 0:
            self._reported_drops = self.dropped
            log.warning("inference log: dropped %d records since the last report (buffer of %d "
                        "full or database refusing rows); %d dropped in all", new, self._bound,
                        self.dropped)


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep for ``seconds`` or until ``stopping``, whichever is first."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
