"""The worker process pool of one model: add, drain, replace on crash.

Each ``WorkerHandle`` owns one process and one coroutine. The coroutine takes a batch from the
model's queue whenever its process is idle, so batches reach idle workers with no central
dispatcher, and a draining worker simply stops asking. A watchdog timer runs beside each
batch: a batch that runs past its requests' deadlines (with some patience, see
``ebb.serving.watchdog``) or past ``max_batch_runtime_s`` gets its worker SIGKILLed. A worker
that dies mid-batch is replaced, and its batch is settled by ``ebb.serving.losses``: each
request runs again alone; one that takes a worker down alone is poison (500, not retried).
Workers die with the gateway (``ebb.serving.lifeline``); starts, stops and crashes are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import math
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

from ebb.core.errors import ModelError
from ebb.core.types import ModelMetadata
from ebb.runtime.base import ModelSource
from ebb.serving.batch_wire import batch_message, deliver, split_answers
from ebb.serving.drain_order import DrainCandidate, choose_to_drain
from ebb.serving.ipc import Arena, fetch, read_message, write_message
from ebb.serving.lifeline import reap, start_fork_server
from ebb.serving.losses import describe, settle_lost_batch
from ebb.serving.queue import ModelQueue, Pending
from ebb.serving.stats import ModelStats, ServingObserver
from ebb.serving.watchdog import can_answer, kill_at, loss_of, overdue_at
from ebb.serving.worker_main import worker_main

log = logging.getLogger("ebb.workers")

DEFAULT_MAX_BATCH_RUNTIME_S = 60.0

_PRELOAD = ["ebb.serving.fork_server_guard", "ebb.serving.worker_main", "ebb.runtime.loaders",
            "ebb.cli", "numpy", "onnxruntime"]
"""Imported once in the fork server: a worker starts in tens of milliseconds, and a burst of new
workers does not starve the gateway while they import (``ebb.cli``: a child re-imports the main
module; pydantic costs ~0.3 s). The guard, first, ties the fork server to the gateway."""


def worker_context() -> Any:
    """Forkserver with the heavy imports preloaded: safe next to gRPC's threads, fast cold start."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


class WorkerState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class WorkerCounts:
    starting: int
    ready: int
    draining: int

    @property
    def active(self) -> int:
        """Workers that are or will be serving: what a scaling decision counts."""
        return self.starting + self.ready


_worker_ids = count(1)


class WorkerHandle:
    def __init__(self, pool: WorkerPool) -> None:
        self.id = next(_worker_ids)
        self.pool = pool
        self.state = WorkerState.STARTING
        self.busy = False
        self.pid: int | None = None
        self.started_at = time.monotonic()
        self._process: Any = None
        self._writer: asyncio.StreamWriter | None = None
        self.batch: list[Pending] | None = None
        """The batch it is running."""
        self._died = False
        self.killed_by_gateway = False
        """The gateway SIGKILLed it: the watchdog, or a shutdown past its drain timeout."""
        self.overdue = math.inf
        """Loop time from which its running batch is overdue (readiness stops counting it)."""
        self._arena_in: Arena | None = None
        self._arena_out: Arena | None = None
        self.task: asyncio.Task[None] | None = None

    def drain(self) -> None:
        """Finish the batch in hand, take no new one, then stop."""
        if self.state is WorkerState.STOPPED:
            return
        was_starting = self.state is WorkerState.STARTING
        self.state = WorkerState.DRAINING
        if (was_starting or not self.busy) and self.task is not None:
            self.task.cancel()

    async def run(self) -> None:
        try:
            reader = await self._start()
            self.state = WorkerState.READY if self.state is WorkerState.STARTING else self.state
            while self.state is WorkerState.READY:
                self.busy = False
                batch = await self.pool.queue.next_batch()
                self.busy = True
                self.batch = batch
                await self._run_batch(reader, batch)
                self.batch = None
        except (asyncio.IncompleteReadError, ConnectionError, EOFError):
            if self.state is WorkerState.STARTING:
                self.pool.load_failures.append("worker process exited while loading the model")
                log.error("model %s: worker %d exited while loading", self.pool.model, self.id)
            else:
                self._died = True
        except asyncio.CancelledError:
            if not self._died and self.state is not WorkerState.DRAINING:
                await self._stop_process()
                raise
        except _LoadFailed as failure:
            log.error("model %s: worker %d failed to load: %s", self.pool.model, self.id, failure)
            self.pool.load_failures.append(str(failure))
        finally:
            self.busy = False
        if self._died:
            await self._stop_process()  # reaped: its exit status says how it died
            self.pool.on_crash(self, self.batch, self._process.exitcode)
        await self._stop_process()
        if not self._died and self.state in (WorkerState.READY, WorkerState.DRAINING):
            log.info("model %s: worker %d (pid %s) stopped (%s)", self.pool.model, self.id,
                     self.pid, "drained" if self.state is WorkerState.DRAINING else "shut down")
        self.state = WorkerState.STOPPED
        self.pool.forget(self)

    async def _start(self) -> asyncio.StreamReader:
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair()
        pool = self.pool
        self._process = pool.context.Process(
            target=worker_main, args=(child, pool.source, pool.metadata, os.getpid()),
            name=f"ebb-worker-{pool.model}-{self.id}", daemon=True)
        began = time.perf_counter()
        await loop.run_in_executor(None, self._process.start)
        child.close()
        self._arena_in, self._arena_out = Arena.create(), Arena.create()
        socket.send_fds(parent, [b"arenas"], [self._arena_in.fd, self._arena_out.fd])
        self.pid = self._process.pid
        loop.add_reader(self._process.sentinel, self._on_exit)
        reader, self._writer = await asyncio.open_unix_connection(sock=parent)
        message = await read_message(reader)
        if message[0] != "ready":
            raise _LoadFailed(message[1])
        seconds = time.perf_counter() - began
        pool.observer.worker_started(pool.model, seconds)
        log.info("model %s: worker %d (pid %s) ready in %.3f s", pool.model, self.id, self.pid,
                 seconds)
        return reader

    def _on_exit(self) -> None:
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self._process.sentinel)
        if self.state is WorkerState.STOPPED or self._died:
            return
        if self.state is WorkerState.DRAINING and not self.busy:
            return
        self._died = True
        if not self.busy and self.task is not None:
            self.task.cancel()

    def _kill_hung(self, began: float, size: int) -> None:
        """The watchdog's timer: the batch is overdue; SIGKILL the worker (``run`` replaces it)."""
        if self.pid is None or self._died:
            return
        self.killed_by_gateway = True
        self.pool.stats.watchdog_kills += 1
        log.warning("model %s: worker %d (pid %s) has run a batch of %d for %.1f s, past its "
                    "deadline or --max-batch-runtime-s; killing it", self.pool.model, self.id,
                    self.pid, size, asyncio.get_running_loop().time() - began)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    async def _run_batch(self, reader: asyncio.StreamReader, batch: list[Pending]) -> None:
        assert self._writer is not None
        pool = self.pool
        assert self._arena_in is not None and self._arena_out is not None
        loop = asyncio.get_running_loop()
        taken_at = loop.time()
        size = len(batch)
        pool.inflight += len(batch)
        typical = pool.stats.batch_seconds / pool.stats.batches if pool.stats.batches else 0.0
        deadlines = [item.deadline for item in batch]
        self.overdue = overdue_at(taken_at, deadlines, pool.max_batch_runtime_s, typical)
        watchdog = loop.call_at(kill_at(taken_at, deadlines, pool.max_batch_runtime_s, typical),
                                self._kill_hung, taken_at, size)
        try:
            write_message(self._writer, batch_message(batch, pool.batchable, self._arena_in))
            reply = await read_message(reader)
        finally:
            watchdog.cancel()
            self.overdue = math.inf
            pool.inflight -= len(batch)
        kind, payload, seconds, arena_size = reply
        now = loop.time()
        rows = sum(item.rows for item in batch)
        pool.stats.batch_ran(len(batch), rows, seconds)
        pool.observer.batch_done(pool.model, len(batch), rows, seconds,
                                 [now - item.enqueued_at - seconds for item in batch])
        if kind != "ok":
            message, trace = payload  # the traceback is for this log only, never a client
            log.error("model %s: a batch of %d failed (500): %s\n%s", pool.model, len(batch),
                      message, trace.rstrip())
            deliver(batch, ModelError(f"model {pool.model} failed: {message}"), taken_at, seconds)
            return
        if isinstance(payload, dict):
            answers = split_answers(fetch(payload, self._arena_out, arena_size, copy=True), batch)
        else:
            answers = payload
        deliver(batch, answers, taken_at, seconds)
        pool.observer.batch_sample(
            pool.model, {t.name: t.data for t in batch[0].request.inputs}, answers[0])

    async def _stop_process(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(process.sentinel)
        if self._writer is not None and not self._died:
            with contextlib.suppress(Exception):
                write_message(self._writer, ("stop",))
                await self._writer.drain()
        if self._writer is not None:
            self._writer.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, reap, process)
        for arena in (self._arena_in, self._arena_out):
            if arena is not None:
                arena.close()
        self._arena_in = self._arena_out = None
        self._writer = None

    def kill(self) -> None:
        """SIGKILL the process now (shutdown past its drain timeout)."""
        if self.pid is not None and not self._died and self._process is not None:
            self.killed_by_gateway = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)


class _LoadFailed(Exception):
    pass


class WorkerPool:
    """The workers of one model. ``add`` and ``remove`` are safe while traffic flows."""

    def __init__(self, model: str, source: ModelSource, metadata: ModelMetadata,
                 queue: ModelQueue, stats: ModelStats, observer: ServingObserver,
                 context: Any) -> None:
        self.model = model
        self.source = source
        self.metadata = metadata
        self.queue = queue
        self.stats = stats
        self.observer = observer
        self.context = context
        self.workers: list[WorkerHandle] = []
        self.batchable = metadata.max_batch_size > 0
        self.inflight = 0
        self.load_failures: list[str] = []
        self.on_change: Callable[[], None] = lambda: None
        self.max_batch_runtime_s = DEFAULT_MAX_BATCH_RUNTIME_S
        """A batch running longer has its worker killed, whatever its deadlines."""
        self.closing = False

    def counts(self) -> WorkerCounts:
        starting = ready = draining = 0
        for worker in self.workers:
            if worker.state is WorkerState.STARTING:
                starting += 1
            elif worker.state is WorkerState.READY:
                ready += 1
            elif worker.state is WorkerState.DRAINING:
                draining += 1
        return WorkerCounts(starting, ready, draining)

    def add(self, count: int = 1) -> None:
        start_fork_server()  # from the loop's thread, not an executor's: see lifeline
        for _ in range(count):
            worker = WorkerHandle(self)
            self.workers.append(worker)
            worker.task = asyncio.get_running_loop().create_task(
                worker.run(), name=f"ebb-worker-{self.model}-{worker.id}")
        self.on_change()

    def remove(self, count: int = 1) -> int:
        """Drain up to ``count`` workers, starting ones first, then idle ones, then busy ones,
        newest first (``drain_order``, the rule the simulator shares)."""
        candidates = [w for w in self.workers
                      if w.state in (WorkerState.STARTING, WorkerState.READY)]
        chosen = [candidates[i] for i in choose_to_drain(
            [DrainCandidate(w.state is WorkerState.STARTING, w.busy, w.started_at)
             for w in candidates], count)]
        for worker in chosen:
            worker.drain()
        self.on_change()
        return len(chosen)

    def scale_to(self, target: int) -> None:
        active = self.counts().active
        if target > active:
            self.add(target - active)
        elif target < active:
            self.remove(active - target)

    def on_crash(self, worker: WorkerHandle, batch: list[Pending] | None,
                 exitcode: int | None) -> None:
        self.stats.worker_restarts += 1
        self.observer.worker_restarted(self.model)
        loss = loss_of(exitcode, worker.killed_by_gateway)
        retried = 0
        if batch:
            retried = settle_lost_batch(self.model, batch, loss, exitcode, self.queue,
                                        self.stats, self.max_batch_runtime_s)
        how = "was stopped" if worker.killed_by_gateway else f"died ({describe(exitcode)})"
        during = f" during a batch of {len(batch)}, {retried} retried one by one" if batch else ""
        log.warning("model %s: worker %d (pid %s) %s%s%s", self.model, worker.id, worker.pid,
                    how, during, "" if self.closing else "; starting a replacement")
        if worker.state is not WorkerState.DRAINING and not self.closing:
            worker.state = WorkerState.STOPPED
            self.add(1)

    def forget(self, worker: WorkerHandle) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
            self.on_change()

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    def fail_running(self, error: Exception) -> int:
        """Answer every request the workers are running with ``error`` (a shutdown past its
        drain timeout); returns how many. An answer that comes later is dropped."""
        running = [item for worker in self.workers if worker.busy and worker.batch
                   for item in worker.batch if not item.future.done()]
        for item in running:
            if item.timer is not None:
                item.timer.cancel()
            item.future.set_exception(error)
        return len(running)

    def can_answer(self, now: float) -> bool:
        """Whether a ready worker is idle or busy with a batch that is not overdue."""
        return any(w.state is WorkerState.READY and can_answer(w.busy, w.overdue, now)
                   for w in self.workers)

    async def wait_ready(self, count: int, timeout_s: float) -> None:
        """Wait until ``count`` workers are ready (startup); raises if loading failed."""
        deadline = time.monotonic() + timeout_s
        while self.counts().ready < count:
            if self.load_failures:
                raise _LoadFailedError(self.model, self.load_failures[0])
            if time.monotonic() > deadline:
                raise TimeoutError(f"model {self.model}: workers not ready after {timeout_s} s")
            await asyncio.sleep(0.01)

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stop every worker: idle ones at once, busy ones after their batch, and any still
        running after ``timeout_s`` by SIGKILL (shutdown must end)."""
        self.closing = True
        for worker in list(self.workers):
            worker.drain()
        tasks = [w.task for w in self.workers if w.task is not None]
        if not tasks:
            return
        _, running = await asyncio.wait(tasks, timeout=timeout_s)
        if running:
            for worker in list(self.workers):
                worker.kill()
            await asyncio.wait(running, timeout=5.0)


class _LoadFailedError(RuntimeError):
    def __init__(self, model: str, message: str) -> None:
        super().__init__(f"model {model} failed to load in its worker: {message}")
