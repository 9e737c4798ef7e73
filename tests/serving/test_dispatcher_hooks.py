"""QueueDispatcher's inference hooks, with real worker processes: one record per request, with
its status and timings, and a failing hook never fails a request."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence

import numpy as np
import pytest

from ebb.core.dispatch import InferenceHook, InferenceRecord
from ebb.core.errors import DeadlineExceeded, InvalidInput, ModelError, ModelNotFound
from ebb.core.types import InferRequest, Tensor
from ebb.runtime.python_class import PythonClassSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import QueueDispatcher, ServedModel
from ebb.serving.stats import NullObserver
from ebb.serving.workers import worker_context


@pytest.fixture
async def served() -> AsyncIterator[ServedModel]:
    source = PythonClassSource("tests.serving.models_for_tests:RaisesOnNegative", kwargs={})
    model = ServedModel.create(source, source.describe(), BatchPolicy(8, 0.001),
                               max_queue_size=100, default_timeout_s=30, scale_from_zero=True,
                               observer=NullObserver(), context=worker_context())
    yield model
    await model.pool.close()


def _request(value: float, datatype: str = "FP32", timeout_s: float | None = None
             ) -> InferRequest:
    data = np.full((1, 2), value, dtype=np.float32 if datatype == "FP32" else np.int32)
    return InferRequest("raises", (Tensor("INPUT0", datatype, data),), timeout_s=timeout_s)


def _dispatcher(served: ServedModel, hooks: Sequence[InferenceHook]) -> QueueDispatcher:
    return QueueDispatcher({"raises": served}, hooks)


async def test_every_request_gives_one_record_with_its_status(served: ServedModel) -> None:
    records: list[InferenceRecord] = []
    dispatcher = _dispatcher(served, [records.append])
    served.pool.add(1)
    await served.pool.wait_ready(1, 60)
    answers = await asyncio.gather(*(dispatcher.infer(_request(i)) for i in range(4)))
    assert [a.outputs[0].data[0, 0] for a in answers] == [0, 1, 2, 3]
    with pytest.raises(InvalidInput):
        await dispatcher.infer(_request(1, "INT32"))
    with pytest.raises(ModelNotFound):
        await dispatcher.infer(InferRequest("nope", ()))
    with pytest.raises(ModelError):
        await dispatcher.infer(_request(-1))
    assert [record.status for record in records] == [200, 200, 200, 200, 400, 404, 500]
    for record in records[:4]:
        assert record.error is None and record.response is not None
        assert 1 <= record.batch_size <= 4
        assert record.inference_s > 0 and record.queue_wait_s >= 0
        assert record.total_s >= record.inference_s + record.queue_wait_s
    invalid, missing, failed = records[4:]
    assert invalid.batch_size == missing.batch_size == 0
    assert invalid.queue_wait_s == invalid.inference_s == 0
    assert isinstance(failed.error, ModelError) and failed.response is None
    assert failed.batch_size == 1 and failed.inference_s > 0


async def test_a_request_that_expires_in_the_queue_is_recorded_as_504(served: ServedModel
                                                                       ) -> None:
    records: list[InferenceRecord] = []
    dispatcher = _dispatcher(served, [records.append])
    with pytest.raises(DeadlineExceeded):
        await dispatcher.infer(_request(1, timeout_s=0.05))
    (record,) = records
    assert (record.status, record.batch_size, record.inference_s) == (504, 0, 0)
    assert record.queue_wait_s >= 0.04


async def test_a_failing_hook_is_logged_once_and_never_fails_a_request(
        served: ServedModel, caplog: pytest.LogCaptureFixture) -> None:
    records: list[InferenceRecord] = []

    def broken(record: InferenceRecord) -> None:
        raise RuntimeError("hook is broken")

    dispatcher = _dispatcher(served, [broken, records.append])
    served.pool.add(1)
    with caplog.at_level(logging.INFO, logger="ebb.dispatch"):
        for value in range(3):
            answer = await asyncio.wait_for(dispatcher.infer(_request(value)), 60)
            assert answer.outputs[0].data[0, 0] == value
    assert len(records) == 3
    (logged,) = [entry for entry in caplog.records if entry.name == "ebb.dispatch"]
    assert logged.levelno == logging.ERROR and logged.exc_info is not None
