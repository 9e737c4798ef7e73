from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ebb.core.errors import DeadlineExceeded, Unavailable
from ebb.core.types import InferRequest, Tensor
from ebb.serving.batching import BatchPolicy
from ebb.serving.queue import ModelQueue, Pending


def _pending(loop: asyncio.AbstractEventLoop, rows: int = 1, signature: object = "a") -> Pending:
    request = InferRequest("m", (Tensor("x", "FP32", np.zeros((rows, 2), np.float32)),))
    return Pending(request, rows, signature, loop.create_future())


async def test_full_queue_refuses_at_once_with_a_retry_hint() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(4, 1.0), max_size=2, retry_after_s=2)
    queue.put(_pending(loop), None)
    queue.put(_pending(loop), None)
    with pytest.raises(Unavailable) as refused:
        queue.put(_pending(loop), None)
    assert refused.value.retry_after_s == 2
    assert queue.depth == 2
    assert queue.rejected == 1


async def test_batch_by_size_and_by_delay_on_explicit_time() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(3, 0.010, adaptive=False), max_size=100)
    items = [_pending(loop) for _ in range(4)]
    for item in items:
        queue.put(item, None)
    start = items[0].enqueued_at
    batch = queue.take_ready_batch(now=start)
    assert batch is not None and [p.sequence for p in batch] == [p.sequence for p in items[:3]]
    assert queue.take_ready_batch(now=start + 0.009) is None  # one left, delay not over
    late = queue.take_ready_batch(now=items[3].enqueued_at + 0.010)
    assert late == [items[3]]
    assert queue.depth == 0


async def test_different_shapes_never_share_a_batch() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(8, 0.0), max_size=100)
    first, other, second = _pending(loop, signature="a"), _pending(loop, signature="b"), \
        _pending(loop, signature="a")
    for item in (first, other, second):
        queue.put(item, None)
    now = loop.time() + 1
    assert queue.take_ready_batch(now) == [first, second]
    assert queue.take_ready_batch(now) == [other]


async def test_expired_request_leaves_the_queue_with_504() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(8, 10.0), max_size=10)
    item = _pending(loop)
    queue.put(item, loop.time() + 0.02)
    with pytest.raises(DeadlineExceeded):
        await asyncio.wait_for(item.future, 2)
    assert queue.depth == 0
    assert queue.expired == 1


async def test_waiting_worker_is_woken_by_the_delay_not_by_polling() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(8, 0.05, adaptive=False), max_size=10)
    taker = asyncio.create_task(queue.next_batch())
    await asyncio.sleep(0)
    item = _pending(loop)
    queue.put(item, None)
    batch = await asyncio.wait_for(taker, 2)
    waited = loop.time() - item.enqueued_at
    assert batch == [item]
    assert 0.045 <= waited < 0.5


async def test_cancelled_waiter_loses_nothing_and_passes_the_wake_on() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(1, 0.0), max_size=10)
    leaving = asyncio.create_task(queue.next_batch())
    staying = asyncio.create_task(queue.next_batch())
    await asyncio.sleep(0)
    item = _pending(loop)
    queue.put(item, None)
    leaving.cancel()
    assert await asyncio.wait_for(staying, 2) == [item]


async def test_requeued_requests_go_first_and_one_by_one() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(2, 0.0), max_size=10)
    old = [_pending(loop) for _ in range(2)]
    for item in old:
        queue.put(item, None)
    taken = queue.take_ready_batch(loop.time())
    assert taken is not None
    newer = _pending(loop)
    queue.put(newer, None)
    queue.requeue_alone(taken)
    assert queue.depth == 3
    assert queue.take_ready_batch(loop.time() + 1) == [old[0]]
    assert queue.take_ready_batch(loop.time() + 1) == [old[1]]
    assert queue.take_ready_batch(loop.time() + 1) == [newer]
    assert queue.depth == 0


async def test_deadline_answers_a_running_request_504() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(1, 0.0), max_size=10)
    item = _pending(loop)
    queue.put(item, loop.time() + 0.05)
    assert queue.take_ready_batch(loop.time()) == [item]
    with pytest.raises(DeadlineExceeded, match="without an answer from the model"):
        await asyncio.wait_for(item.future, 2)
    assert queue.expired == 1 and queue.depth == 0


async def test_deadline_of_a_requeued_request_still_runs() -> None:
    loop = asyncio.get_running_loop()
    queue = ModelQueue(BatchPolicy(4, 0.0), max_size=10)
    item = _pending(loop)
    queue.put(item, loop.time() + 0.05)
    taken = queue.take_ready_batch(loop.time())
    assert taken == [item]
    queue.requeue_alone(taken)
    with pytest.raises(DeadlineExceeded, match="waiting in the queue"):
        await asyncio.wait_for(item.future, 2)
    assert queue.depth == 0 and queue.take_ready_batch(loop.time()) is None
