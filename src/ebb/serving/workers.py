"""The worker process pool of one model: add, drain, replace on crash.

Each ``WorkerHandle`` owns one process and one coroutine. The coroutine takes a batch from the
model's queue whenever its process is idle, so batches reach idle workers with no central
dispatcher, and a draining worker simply stops asking. A worker that dies mid-batch has its
batch put back at the head of the queue (each request is retried once) and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import multiprocessing
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count
from typing import Any

import numpy as np

from ebb.core.errors import ModelError, Unavailable
from ebb.core.types import ModelMetadata
from ebb.runtime.base import ModelSource
from ebb.serving.drain_order import DrainCandidate, choose_to_drain
from ebb.serving.ipc import Arena, fetch, place_stacked, read_message, write_message
from ebb.serving.queue import ModelQueue, Pending
from ebb.serving.stats import ModelStats, ServingObserver
from ebb.serving.worker_main import worker_main

log = logging.getLogger("ebb.workers")

MAX_ATTEMPTS = 2
"""A request is tried at most twice: once, and once more if its worker died."""

_PRELOAD = ["ebb.serving.worker_main", "ebb.runtime.loaders", "ebb.cli", "numpy", "onnxruntime"]
"""Imported once in the fork server: a worker then starts in tens of milliseconds, and a burst of
new workers does not starve the gateway of CPU while they import (``ebb.cli`` is there because
a child re-imports the main module, and pydantic costs ~0.3 s)."""


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
        self._batch: list[Pending] | None = None
        self._died = False
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
                self._batch = batch
                await self._run_batch(reader, batch)
                self._batch = None
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
            self.pool.on_crash(self, self._batch)
        await self._stop_process()
        self.state = WorkerState.STOPPED
        self.pool.forget(self)

    async def _start(self) -> asyncio.StreamReader:
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair()
        pool = self.pool
        self._process = pool.context.Process(
            target=worker_main, args=(child, pool.source, pool.metadata),
            name=f"ebb-worker-{pool.model}-{self.id}", daemon=True,
        )
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

    async def _run_batch(self, reader: asyncio.StreamReader, batch: list[Pending]) -> None:
        assert self._writer is not None
        pool = self.pool
        assert self._arena_in is not None and self._arena_out is not None
        loop = asyncio.get_running_loop()
        taken_at = loop.time()
        size = len(batch)
        pool.inflight += len(batch)
        try:
            write_message(self._writer, _batch_message(batch, pool.batchable, self._arena_in))
            reply = await read_message(reader)
        except BaseException:
            pool.inflight -= len(batch)
            raise
        pool.inflight -= len(batch)
        kind, payload, seconds, arena_size = reply
        now = loop.time()
        pool.stats.batches += 1
        pool.stats.batch_seconds += seconds
        pool.stats.completions += len(batch)
        pool.observer.batch_done(pool.model, len(batch), sum(item.rows for item in batch),
                                 seconds, [now - item.enqueued_at - seconds for item in batch])
        if kind == "ok":
            if isinstance(payload, dict):
                answers = _split(fetch(payload, self._arena_out, arena_size, copy=True), batch)
            else:
                answers = payload
            for item, outputs in zip(batch, answers, strict=True):
                item.taken_at, item.batch_size, item.inference_s = taken_at, size, seconds
                if not item.future.done():
                    item.future.set_result(outputs)
            pool.observer.batch_sample(
                pool.model, {t.name: t.data for t in batch[0].request.inputs}, answers[0])
        else:
            error = ModelError(f"model {pool.model} failed: {payload}")
            for item in batch:
                item.taken_at, item.batch_size, item.inference_s = taken_at, size, seconds
                if not item.future.done():
                    item.future.set_exception(error)

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
        await loop.run_in_executor(None, _reap, process)
        for arena in (self._arena_in, self._arena_out):
            if arena is not None:
                arena.close()
        self._arena_in = self._arena_out = None


def _batch_message(batch: list[Pending], batchable: bool, arena: Arena) -> tuple[Any, ...]:
    if not batchable:
        return "each", [{t.name: t.data for t in item.request.inputs} for item in batch]
    parts: dict[str, list[np.ndarray]] = {t.name: [] for t in batch[0].request.inputs}
    for item in batch:
        for tensor in item.request.inputs:
            parts[tensor.name].append(tensor.data)
    return "stacked", place_stacked(parts, arena), arena.size


def _split(outputs: dict[str, np.ndarray], batch: list[Pending]) -> list[dict[str, np.ndarray]]:
    """Views of the stacked answer, one per request, by each request's rows."""
    if len(batch) == 1:
        return [outputs]
    answers = []
    offset = 0
    for item in batch:
        end = offset + item.rows
        answers.append({name: array[offset:end] for name, array in outputs.items()})
        offset = end
    return answers


def _reap(process: Any) -> None:
    if process.pid is None:
        return
    process.join(timeout=5)
    if process.is_alive():
        process.terminate()
        process.join(timeout=5)
    if process.is_alive():
        process.kill()
        process.join()


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

    def on_crash(self, worker: WorkerHandle, batch: list[Pending] | None) -> None:
        self.stats.worker_restarts += 1
        self.observer.worker_restarted(self.model)
        log.warning("model %s: worker %d (pid %s) died%s; starting a replacement", self.model,
                    worker.id, worker.pid,
                    f" during a batch of {len(batch)}; retrying it" if batch else "")
        if batch:
            retry = []
            for item in batch:
                item.attempts += 1
                if item.attempts >= MAX_ATTEMPTS:
                    if not item.future.done():
                        item.future.set_exception(Unavailable(
                            "the worker running this request died twice; not retrying"))
                else:
                    retry.append(item)
            self.queue.requeue_front(retry)
        if worker.state is not WorkerState.DRAINING:
            worker.state = WorkerState.STOPPED
            self.add(1)

    def forget(self, worker: WorkerHandle) -> None:
        if worker in self.workers:
            self.workers.remove(worker)
            self.on_change()

    def pids(self) -> list[int]:
        return [w.pid for w in self.workers if w.pid is not None]

    async def wait_ready(self, count: int, timeout_s: float) -> None:
        """Wait until ``count`` workers are ready (startup); raises if loading failed."""
        deadline = time.monotonic() + timeout_s
        while self.counts().ready < count:
            if self.load_failures:
                raise _LoadFailedError(self.model, self.load_failures[0])
            if time.monotonic() > deadline:
                raise TimeoutError(f"model {self.model}: workers not ready after {timeout_s} s")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        for worker in list(self.workers):
            worker.drain()
        tasks = [w.task for w in self.workers if w.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


class _LoadFailedError(RuntimeError):
    def __init__(self, model: str, message: str) -> None:
        super().__init__(f"model {model} failed to load in its worker: {message}")
