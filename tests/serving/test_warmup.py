"""Readiness waits for a warm-up inference built from the model's metadata."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import pytest

from ebb.core.types import ModelMetadata, TensorSpec
from ebb.runtime.python_class import PythonClassSource
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import QueueDispatcher, ServedModel
from ebb.serving.stats import NullObserver
from ebb.serving.warmup import example_request, warm_up
from ebb.serving.workers import worker_context
from tests.conftest import start_server


def _metadata(*inputs: TensorSpec, max_batch_size: int = 8) -> ModelMetadata:
    return ModelMetadata(name="m", platform="test", inputs=inputs,
                         outputs=(TensorSpec("y", "FP32", (-1,)),),
                         max_batch_size=max_batch_size)


def test_example_is_zeros_of_the_declared_shape_with_a_batch_of_one() -> None:
    example = example_request(_metadata(TensorSpec("x", "FP32", (-1, 3, 4)),
                                        TensorSpec("s", "BYTES", (-1,))), timeout_s=5)
    assert example is not None
    request, guessed = example
    x, s = request.inputs
    assert x.data.shape == (1, 3, 4) and x.data.dtype == np.float32 and not x.data.any()
    assert s.data.tolist() == [b""]
    assert not guessed and request.timeout_s == 5


def test_dynamic_dimensions_beyond_the_batch_are_guessed() -> None:
    example = example_request(_metadata(TensorSpec("x", "INT64", (-1, -1))), timeout_s=None)
    assert example is not None and example[1]
    assert example[0].inputs[0].data.shape == (1, 1)
    no_batch = example_request(_metadata(TensorSpec("x", "FP32", (2, -1)), max_batch_size=0),
                               timeout_s=None)
    assert no_batch is not None and no_batch[1] and no_batch[0].inputs[0].data.shape == (2, 1)


async def test_not_ready_until_the_warm_up_answered_then_ready(
        caplog: pytest.LogCaptureFixture) -> None:
    source = PythonClassSource("tests.serving.models_for_tests:FailsFirstCall")
    served = ServedModel.create(source, source.describe(), BatchPolicy(8, 0.001), 100, 30,
                                scale_from_zero=False, observer=NullObserver(),
                                context=worker_context())
    dispatcher = QueueDispatcher({"fails_first": served})
    served.pool.add(1)
    try:
        await served.pool.wait_ready(1, 60)
        assert not dispatcher.ready("fails_first")
        await asyncio.wait_for(warm_up(served, 10, asyncio.Event()), 30)
        assert served.warmed and dispatcher.ready("fails_first")
        assert "warm-up inference failed" in caplog.text
        dispatcher.draining = True
        assert not dispatcher.ready("fails_first")
    finally:
        await served.pool.close(1.0)


def test_a_served_model_is_ready_at_the_banner_after_its_warm_up(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:double")
    try:
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
        assert "model double: warm-up inference answered" in server.log()
    finally:
        server.stop()
