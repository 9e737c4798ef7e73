"""The app factory in process: real worker processes, real ports, one EbbServer object."""

from __future__ import annotations

import asyncio

import httpx

from ebb.app import EbbServer
from ebb.config import load_settings
from ebb.core.clock import MonotonicClock
from ebb.runtime.loaders import resolve

BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": [1] * 16}]}


def _server(*extra: tuple[str, object]) -> EbbServer:
    settings = load_settings({"host": "127.0.0.1", "http_port": 0, "grpc_port": 0,
                              "workers": 1, **dict(extra)})
    return EbbServer(settings, [resolve("builtin:double", None, False)], MonotonicClock())


async def test_serves_and_one_snapshot_feeds_metrics_and_autoscaler() -> None:
    server = _server(("min_workers", 1), ("max_workers", 2))
    ports = await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.http}") as http:
            for _ in range(3):
                answer = await http.post("/v2/models/double/infer", json=BODY)
                assert answer.status_code == 200
                assert answer.json()["outputs"][0]["data"] == [2.0] * 16
            metrics = (await http.get("/metrics")).text
            assert 'ebb_queue_admissions_total{model="double"} 4.0' in metrics  # + warm-up
            assert (await http.get("/dashboard/data?model=double")).json()["policy"] == "ebb"
        snapshot = server.state.snapshot("double")
        assert snapshot.admissions == 4 and snapshot.completions == 4 and snapshot.ready == 1
        record = await server.scaling.controllers["double"].step()
        assert record.current == 1 and record.queue_depth == 0
    finally:
        await asyncio.wait_for(server.stop(), 30)


async def test_requests_after_shutdown_begins_are_refused_not_counted_as_load() -> None:
    server = _server()
    ports = await server.start()
    try:
        for served in server.models.values():
            served.queue.close()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.http}") as http:
            answer = await http.post("/v2/models/double/infer", json=BODY)
        assert answer.status_code == 503
        assert answer.json() == {"error": "server is shutting down"}
        assert "retry-after" in answer.headers
        assert server.state.snapshot("double").rejections == 0
    finally:
        await asyncio.wait_for(server.stop(), 30)
