"""The shutdown sequence in process: its order, and what late and unfinished requests get."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ebb.app.shutdown import Shutdown
from ebb.config import ServeSettings
from ebb.core.errors import Unavailable
from ebb.core.types import InferRequest, Tensor
from ebb.runtime.loaders import resolve
from ebb.serving.batching import BatchPolicy
from ebb.serving.dispatcher import QueueDispatcher, ServedModel
from ebb.serving.stats import NullObserver
from ebb.serving.workers import worker_context


def _request() -> InferRequest:
    return InferRequest("chaos", (Tensor("INPUT0", "FP32", np.ones((1, 2), np.float32)),))


async def _served(ms: int) -> tuple[ServedModel, QueueDispatcher]:
    source = resolve(f"builtin:chaos?ms={ms}")
    served = ServedModel.create(source, source.describe(), BatchPolicy(1, 0.0), 100, 30,
                                scale_from_zero=False, observer=NullObserver(),
                                context=worker_context(), warmed=True)
    served.pool.add(1)
    await served.pool.wait_ready(1, 60)
    return served, QueueDispatcher({"chaos": served})


async def test_order_readiness_pause_close_drain_and_late_requests() -> None:
    served, dispatcher = await _served(ms=100)
    steps: list[str] = []

    async def stop_http() -> None:
        steps.append("http")

    async def stop_grpc(grace_s: float) -> None:
        steps.append(f"grpc grace {grace_s:g}")

    async def stop_loops() -> None:
        steps.append("loops")

    shutdown = Shutdown(dispatcher, {"chaos": served}, prestop_s=0.3, drain_timeout_s=5)
    accepted = [asyncio.create_task(dispatcher.infer(_request())) for _ in range(3)]
    await asyncio.sleep(0.05)
    shutdown.begin()
    assert not dispatcher.ready("chaos")
    running = asyncio.create_task(shutdown.run(stop_http, stop_grpc, stop_loops))
    await asyncio.sleep(0.1)
    during_pause = await dispatcher.infer(_request())  # still served during the pause
    assert during_pause.outputs[0].data.tolist() == [[1.0, 1.0]]
    await asyncio.sleep(0.3)
    with pytest.raises(Unavailable, match="shutting down"):
        await dispatcher.infer(_request())
    await asyncio.wait_for(running, 10)
    assert all(task.result().outputs for task in accepted)
    assert served.queue.rejected == 0
    assert steps == ["http", "grpc grace 6", "loops"]


async def test_a_second_signal_cuts_the_pause_short() -> None:
    served, dispatcher = await _served(ms=1)

    async def nothing(*_: object) -> None:
        return None

    shutdown = Shutdown(dispatcher, {"chaos": served}, prestop_s=30, drain_timeout_s=1)
    shutdown.begin()
    running = asyncio.create_task(shutdown.run(nothing, nothing, nothing))
    await asyncio.sleep(0.1)
    shutdown.begin()
    await asyncio.wait_for(running, 5)


def test_the_pause_defaults_to_5_s_off_loopback_and_none_on_it() -> None:
    assert ServeSettings().prestop_seconds == 0
    assert ServeSettings(host="0.0.0.0").prestop_seconds == 5
    assert ServeSettings(host="0.0.0.0", prestop_s=2).prestop_seconds == 2
