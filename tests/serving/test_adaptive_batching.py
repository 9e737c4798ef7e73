"""The adaptive batching rule: an idle worker never waits for company that is not coming.

The rule is a pure function, driven here on a fake clock (plain floats); the queue tests check
that ``ModelQueue`` feeds it the arrival rate it measures, and one test with a real worker
process checks that a lone request no longer pays the batch delay.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator

import numpy as np
import pytest

from ebb.core.types import InferRequest, Tensor
from ebb.runtime.loaders import resolve
from ebb.serving.batching import (
    MIN_GAP_S,
    BatchPolicy,
    idle_flush_at,
    next_gap_per_row,
)
from ebb.serving.dispatcher import QueueDispatcher, ServedModel
from ebb.serving.queue import ModelQueue, Pending
from ebb.serving.stats import NullObserver
from ebb.serving.workers import worker_context

POLICY = BatchPolicy(max_batch_size=32, max_delay_s=0.002)
NO_RATE = math.inf


def test_a_lone_request_leaves_at_once_when_no_rate_is_known() -> None:
    assert idle_flush_at(POLICY, 1, oldest_enqueued_at=10.0, now=10.0,
                         gap_per_row_s=NO_RATE, last_arrival_at=10.0) == 10.0


def test_a_full_batch_or_a_spent_delay_leaves_at_once() -> None:
    assert idle_flush_at(POLICY, 32, 10.0, 10.0, 1e-6, 10.0) == 10.0
    assert idle_flush_at(POLICY, 3, 10.0, 10.002, 1e-6, 10.002) == 10.002


def test_a_sparse_stream_is_waited_for_no_longer_than_the_cap() -> None:
    # one row every 5 ms: the stream has not paused before the 2 ms cap
    assert idle_flush_at(POLICY, 1, 10.0, 10.0, gap_per_row_s=0.005,
                         last_arrival_at=10.0) == pytest.approx(10.002)


def test_a_stream_is_waited_for_until_it_would_have_paused() -> None:
    # a row every 300 µs: wait, and look again two gaps after the last arrival
    due = idle_flush_at(POLICY, 3, 10.0, 10.0001, gap_per_row_s=300e-6,
                        last_arrival_at=10.0001)
    assert due == pytest.approx(10.0007)
    # very fast rows: the gap is taken as no shorter than MIN_GAP_S (no spinning)
    fast = idle_flush_at(POLICY, 3, 10.0, 10.0, gap_per_row_s=1e-6, last_arrival_at=10.0)
    assert fast == pytest.approx(10.0 + 2 * MIN_GAP_S)


def test_the_wait_never_passes_the_delay_cap() -> None:
    due = idle_flush_at(POLICY, 31, 10.0, 10.0019, gap_per_row_s=80e-6, last_arrival_at=10.0019)
    assert due == pytest.approx(10.002)


def test_a_paused_stream_ends_the_wait() -> None:
    """A fast rate measured earlier does not hold a batch back once arrivals have stopped (a
    closed loop whose clients all wait in the queue sends nothing more)."""
    fast = dict(gap_per_row_s=100e-6, last_arrival_at=10.0001)
    assert idle_flush_at(POLICY, 16, 10.0, 10.0002, **fast) > 10.0002
    assert idle_flush_at(POLICY, 16, 10.0, 10.0003, **fast) == 10.0003


def test_the_fixed_window_waits_out_the_delay() -> None:
    fixed = BatchPolicy(max_batch_size=32, max_delay_s=0.002, adaptive=False)
    assert idle_flush_at(fixed, 1, 10.0, 10.0, NO_RATE, 10.0) == pytest.approx(10.002)
    assert idle_flush_at(fixed, 32, 10.0, 10.0, NO_RATE, 10.0) == 10.0


def test_batching_off_or_no_delay_always_leaves_at_once() -> None:
    off = BatchPolicy(max_batch_size=1, max_delay_s=0.002)
    assert idle_flush_at(off, 1, 10.0, 10.0, 1e-6, 10.0) == 10.0
    no_delay = BatchPolicy(max_batch_size=32, max_delay_s=0.0)
    assert idle_flush_at(no_delay, 1, 10.0, 10.0, 1e-6, 10.0) == 10.0


def test_arrival_gap_is_a_moving_average_per_row() -> None:
    first = next_gap_per_row(math.inf, gap_s=0.001, rows=1)
    assert first == pytest.approx(0.001)
    assert next_gap_per_row(first, gap_s=0.004, rows=4) == pytest.approx(0.001)
    moved = next_gap_per_row(first, gap_s=0.0, rows=1)
    assert 0 < moved < first


def _pending(loop: asyncio.AbstractEventLoop) -> Pending:
    request = InferRequest("m", (Tensor("x", "FP32", np.zeros((1, 2), np.float32)),))
    return Pending(request, 1, "a", loop.create_future())


async def test_queue_holds_a_batch_while_a_burst_streams_in_and_not_after() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(8, 1.0), max_size=100)
    items = [_pending(loop) for _ in range(4)]
    for item in items:
        queue.put(item, None)
    last = items[-1].enqueued_at
    assert queue.take_ready_batch(now=last) is None  # rows keep coming: wait for them
    assert queue.take_ready_batch(now=last + 0.5) == items  # the stream has paused: go


async def test_idle_worker_takes_a_lone_request_without_the_delay() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(8, 0.5), max_size=10)
    taker = asyncio.create_task(queue.next_batch())
    await asyncio.sleep(0)
    item = _pending(loop)
    queue.put(item, None)
    assert await asyncio.wait_for(taker, 2) == [item]
    assert loop.time() - item.enqueued_at < 0.25


@contextlib.asynccontextmanager
async def _double_served(delay_s: float) -> AsyncIterator[tuple[ServedModel, QueueDispatcher]]:
    """``builtin:double`` in one real worker, batches of up to 32 with ``delay_s``."""
    source = resolve("builtin:double")
    served = ServedModel.create(source, source.describe(), BatchPolicy(32, delay_s),
                                max_queue_size=100, default_timeout_s=30, scale_from_zero=False,
                                observer=NullObserver(), context=worker_context())
    served.pool.add(1)
    try:
        await served.pool.wait_ready(1, 60)
        yield served, QueueDispatcher({"double": served})
    finally:
        await served.pool.close()


REQUEST = InferRequest("double", (Tensor("INPUT0", "FP32", np.ones((1, 16), np.float32)),))


async def test_a_real_worker_answers_a_lone_request_without_the_delay() -> None:
    async with _double_served(1.0) as (_, dispatcher):
        loop = asyncio.get_running_loop()
        for _ in range(3):
            began = loop.time()
            answer = await dispatcher.infer(REQUEST)
            assert loop.time() - began < 0.5  # the batch delay is 1 s
            assert answer.outputs[0].data.tolist() == [[2.0] * 16]


async def test_a_closed_loop_of_16_clients_does_not_pay_the_delay() -> None:
    """16 clients, each sending its next request when answered, against batches of up to 32
    with a 0.5 s delay: the fixed window would make each round wait 0.5 s (5 rounds: 2.5 s);
    the adaptive rule sends each round as soon as the clients have all asked."""
    async with _double_served(0.5) as (served, dispatcher):

        async def client() -> None:
            for _ in range(5):
                await dispatcher.infer(REQUEST)

        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.gather(*(client() for _ in range(16)))
        assert loop.time() - began < 1.25
        assert served.stats.completions == 80
