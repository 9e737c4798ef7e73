"""Worker pool with real worker processes: add, drain, crash, zero workers, model errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest

from ebb.core.errors import ModelError
from ebb.core.types import InferRequest, Tensor
from ebb.runtime.loaders import resolve
from ebb.runtime.python_class import PythonClassSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import QueueDispatcher, ServedModel
from ebb.serving.stats import NullObserver
from ebb.serving.workers import worker_context

Factory = Callable[..., ServedModel]


@pytest.fixture
async def make_model() -> AsyncIterator[Factory]:
    made: list[ServedModel] = []

    def factory(spec: str, workers: int, max_batch: int = 8, delay_s: float = 0.001,
                **kwargs: str) -> ServedModel:
        source = PythonClassSource(spec, kwargs=kwargs) if spec.startswith("tests.") \
            else resolve(spec)
        served = ServedModel.create(source, source.describe(), BatchPolicy(max_batch, delay_s),
                                    max_queue_size=1000, default_timeout_s=30,
                                    scale_from_zero=True, observer=NullObserver(),
                                    context=worker_context())
        if workers:
            served.pool.add(workers)
        made.append(served)
        return served

    yield factory
    for served in made:
        await served.pool.close()


def _request(model: str, value: float, rows: int = 1, width: int = 2) -> InferRequest:
    data = np.full((rows, width), value, dtype=np.float32)
    return InferRequest(model, (Tensor("INPUT0", "FP32", data),))


async def test_add_and_drain_while_traffic_flows_loses_nothing(make_model: Factory) -> None:
    served = make_model("builtin:sleep?ms=10", workers=1)
    await served.pool.wait_ready(1, 60)
    dispatcher = QueueDispatcher({"sleep": served})

    async def one(i: int) -> float:
        answer = await dispatcher.infer(_request("sleep", i, width=3))
        return float(answer.outputs[0].data[0, 0])

    tasks = [asyncio.create_task(one(i)) for i in range(120)]
    await asyncio.sleep(0.1)
    served.pool.add(2)
    await served.pool.wait_ready(3, 60)
    assert served.pool.counts().ready == 3
    served.pool.remove(2)
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert results == [float(i) for i in range(120)]
    assert served.pool.counts().active == 1
    assert served.stats.completions == 120


async def test_zero_workers_buffer_requests_until_one_is_ready(make_model: Factory) -> None:
    served = make_model("builtin:double", workers=0)
    dispatcher = QueueDispatcher({"double": served})
    request = InferRequest("double", (Tensor("INPUT0", "FP32", np.ones((1, 16), np.float32)),))
    waiting = asyncio.create_task(dispatcher.infer(request))
    await asyncio.sleep(0.2)
    assert not waiting.done() and served.queue.depth == 1
    served.pool.add(1)
    answer = await asyncio.wait_for(waiting, 60)
    assert answer.outputs[0].data.tolist() == [[2.0] * 16]


async def test_worker_dying_mid_batch_is_replaced_and_batch_retried(
        make_model: Factory, tmp_path: Path) -> None:
    served = make_model("tests.serving.models_for_tests:DiesOnce", workers=1,
                        marker=str(tmp_path / "died"))
    await served.pool.wait_ready(1, 60)
    dispatcher = QueueDispatcher({"dies_once": served})
    answers = await asyncio.wait_for(asyncio.gather(
        *(dispatcher.infer(_request("dies_once", i)) for i in range(5))), 60)
    assert [a.outputs[0].data[0, 0] for a in answers] == [i + 1 for i in range(5)]
    assert served.stats.worker_restarts == 1
    assert (tmp_path / "died").exists()
    await served.pool.wait_ready(1, 60)


async def test_request_that_kills_its_worker_alone_is_poison_and_not_retried(
        make_model: Factory) -> None:
    served = make_model("tests.serving.models_for_tests:AlwaysDies", workers=1)
    await served.pool.wait_ready(1, 60)
    dispatcher = QueueDispatcher({"always_dies": served})
    with pytest.raises(ModelError, match=r"exit code 17.*not retried"):
        await asyncio.wait_for(dispatcher.infer(_request("always_dies", 1)), 60)
    assert served.stats.worker_restarts == 1
    assert served.stats.poison_requests == 1


async def test_model_error_is_reported_and_the_worker_keeps_serving(make_model: Factory) -> None:
    served = make_model("tests.serving.models_for_tests:RaisesOnNegative", workers=1)
    await served.pool.wait_ready(1, 60)
    dispatcher = QueueDispatcher({"raises": served})
    with pytest.raises(ModelError, match="negative readings"):
        await dispatcher.infer(_request("raises", -1))
    answer = await dispatcher.infer(_request("raises", 3))
    assert answer.outputs[0].data.tolist() == [[3.0, 3.0]]
    assert served.stats.worker_restarts == 0


async def test_batches_form_under_load(make_model: Factory) -> None:
    served = make_model("builtin:sleep?ms=20", workers=1, max_batch=16, delay_s=0.005)
    await served.pool.wait_ready(1, 60)
    dispatcher = QueueDispatcher({"sleep": served})
    await asyncio.gather(*(dispatcher.infer(_request("sleep", i)) for i in range(64)))
    assert served.stats.batches <= 8
    assert served.stats.completions == 64
