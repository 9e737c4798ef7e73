"""Autoscaling a real server: real worker processes, real HTTP traffic over loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from tests.conftest import RunningServer, start_server

BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}


def _gauge(server: RunningServer, series: str) -> float:
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return 0.0


async def _open_loop(server: RunningServer, rate: float, seconds: float) -> list[int]:
    """Send at a fixed rate whatever the answers do; returns every status code."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30,
                                 limits=httpx.Limits(max_connections=200)) as http:
        tasks = []
        start = time.monotonic()
        count = int(rate * seconds)
        for index in range(count):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(http.post("/v2/models/sleep/infer", json=BODY)))
        responses = await asyncio.gather(*tasks)
    return [response.status_code for response in responses]


def test_scales_up_on_a_burst_and_back_down_without_failing_a_request(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:sleep?ms=40", "--max-batch-size", "1",
                          "--min-workers", "1", "--max-workers", "4", "--autoscale-interval-s",
                          "0.2", "--scale-in-delay-s", "1.5", "--slo-ms", "200")
    try:
        codes = asyncio.run(_open_loop(server, rate=60, seconds=3))  # 2.4x one worker
        assert codes == [200] * len(codes)
        peak = _gauge(server, 'ebb_autoscaler_desired_workers{model="sleep",policy="ebb"}')
        assert peak >= 3
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if _gauge(server, 'ebb_workers{model="sleep",state="ready"}') == 1:
                break
            time.sleep(0.2)
        assert _gauge(server, 'ebb_workers{model="sleep",state="ready"}') == 1
        assert "sleep: ebb 1 -> " in server.log()
    finally:
        assert server.stop() == 0


def test_scale_from_zero_answers_the_first_request(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:sleep?ms=5", "--min-workers", "0",
                          "--max-workers", "2", "--autoscale-interval-s", "0.1",
                          "--scale-in-delay-s", "1")
    try:
        assert _gauge(server, 'ebb_workers{model="sleep",state="ready"}') == 0
        assert httpx.get(f"{server.url}/v2/health/ready").status_code == 200
        started = time.monotonic()
        response = httpx.post(f"{server.url}/v2/models/sleep/infer", json=BODY, timeout=30)
        assert response.status_code == 200
        assert time.monotonic() - started < 10
    finally:
        assert server.stop() == 0
