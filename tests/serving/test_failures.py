"""Hung, poisonous and killed workers, with real worker processes of ``builtin:chaos``."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest

from ebb.core.errors import DeadlineExceeded, EbbError, ModelError
from ebb.core.types import InferRequest, InferResponse, Tensor
from ebb.runtime.loaders import resolve
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import QueueDispatcher, ServedModel
from ebb.serving.stats import NullObserver
from ebb.serving.workers import worker_context

CHAOS = "builtin:chaos?ms=5&hang_on=7&crash_on=13"
Factory = Callable[..., tuple[ServedModel, QueueDispatcher]]


@pytest.fixture
async def chaos() -> AsyncIterator[Factory]:
    made: list[ServedModel] = []

    def factory(workers: int, max_batch: int = 16, delay_s: float = 0.02,
                max_runtime_s: float = 60, spec: str = CHAOS
                ) -> tuple[ServedModel, QueueDispatcher]:
        source = resolve(spec)
        served = ServedModel.create(source, source.describe(), BatchPolicy(max_batch, delay_s),
                                    max_queue_size=1000, default_timeout_s=30,
                                    scale_from_zero=False, observer=NullObserver(),
                                    context=worker_context(), max_batch_runtime_s=max_runtime_s,
                                    warmed=True)
        served.pool.add(workers)
        made.append(served)
        return served, QueueDispatcher({"chaos": served})

    yield factory
    for served in made:
        await served.pool.close(1.0)


def _request(value: float, timeout_s: float | None = None, rid: str = "") -> InferRequest:
    data = np.full((1, 2), value, dtype=np.float32)
    return InferRequest("chaos", (Tensor("INPUT0", "FP32", data),), id=rid, timeout_s=timeout_s)


async def _outcome(dispatcher: QueueDispatcher, request: InferRequest
                   ) -> InferResponse | EbbError:
    try:
        return await dispatcher.infer(request)
    except EbbError as error:
        return error


async def test_poison_among_innocents_fails_alone_and_innocents_are_answered(
        chaos: Factory, caplog: pytest.LogCaptureFixture) -> None:
    served, dispatcher = chaos(workers=2)
    await served.pool.wait_ready(2, 60)
    values = [1, 2, 13, 3, 4, 5, 6, 8]
    outcomes = await asyncio.wait_for(asyncio.gather(*(
        _outcome(dispatcher, _request(v, rid=f"r{v}")) for v in values)), 60)
    for value, outcome in zip(values, outcomes, strict=True):
        if value == 13:
            assert isinstance(outcome, ModelError) and "not retried" in outcome.message
        else:
            assert isinstance(outcome, InferResponse), (value, outcome)
            assert outcome.outputs[0].data[0, 0] == value
    assert served.stats.poison_requests == 1
    assert served.stats.worker_restarts <= 2  # the batch's crash, then the poison's own
    assert sum("r13 made its worker die" in r.message for r in caplog.records) == 1


async def test_hung_request_is_answered_504_at_its_deadline_and_the_worker_replaced(
        chaos: Factory) -> None:
    served, dispatcher = chaos(workers=1, max_batch=1)
    await served.pool.wait_ready(1, 60)
    loop = asyncio.get_running_loop()
    began = time.monotonic()
    hung = asyncio.create_task(_outcome(dispatcher, _request(7, timeout_s=0.5)))
    await asyncio.sleep(0.1)
    assert not served.pool.can_answer(loop.time() + 0.5)  # overdue from its deadline on
    outcome = await asyncio.wait_for(hung, 10)
    answered_after = time.monotonic() - began
    assert isinstance(outcome, DeadlineExceeded)
    assert answered_after < 0.5 + 0.3
    normal = await asyncio.wait_for(dispatcher.infer(_request(1)), 10)
    recovered_after = time.monotonic() - began
    assert normal.outputs[0].data[0, 0] == 1
    assert served.stats.watchdog_kills == 1 and served.stats.worker_restarts == 1
    assert recovered_after < 1.0 + 2.0  # killed after 1 s of patience, back within 2 s


async def test_innocents_batched_with_a_hang_are_retried_alone(chaos: Factory) -> None:
    served, dispatcher = chaos(workers=1, delay_s=0.05)
    await served.pool.wait_ready(1, 60)
    hang = asyncio.create_task(_outcome(dispatcher, _request(7, timeout_s=0.3)))
    innocents = [asyncio.create_task(_outcome(dispatcher, _request(v))) for v in (1, 2, 3)]
    assert isinstance(await asyncio.wait_for(hang, 10), DeadlineExceeded)
    answers = await asyncio.wait_for(asyncio.gather(*innocents), 10)
    assert [a.outputs[0].data[0, 0] for a in answers if isinstance(a, InferResponse)] == [1, 2, 3]


async def test_runtime_limit_stops_a_hang_without_a_deadline(chaos: Factory) -> None:
    served, dispatcher = chaos(workers=1, max_batch=1, max_runtime_s=0.3)
    await served.pool.wait_ready(1, 60)
    request = InferRequest("chaos", _request(7).inputs, timeout_s=None)
    served.default_timeout_s = None
    outcome = await asyncio.wait_for(_outcome(dispatcher, request), 10)
    assert isinstance(outcome, DeadlineExceeded) and "max-batch-runtime-s" in outcome.message


async def test_outside_sigkill_of_a_busy_worker_loses_no_request(chaos: Factory) -> None:
    served, dispatcher = chaos(workers=1, max_batch=1,
                               spec="builtin:chaos?ms=300&hang_on=7&crash_on=13")
    await served.pool.wait_ready(1, 60)
    running = asyncio.create_task(dispatcher.infer(_request(5)))
    await asyncio.sleep(0.15)
    (pid,) = served.pool.pids()
    os.kill(pid, signal.SIGKILL)
    answer = await asyncio.wait_for(running, 30)
    assert answer.outputs[0].data[0, 0] == 5
    assert served.stats.poison_requests == 0 and served.stats.worker_restarts == 1
