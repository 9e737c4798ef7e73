"""The autoscaler's PromQL signal source against a real Prometheus scraping a real server.

`ebb serve --prometheus` starts Debian's Prometheus beside the server; the test reads its URL from
the banner, puts load on the server, and drives an `ebb` policy from `PrometheusSource`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import threading
import time
from pathlib import Path

import httpx
import pytest

from ebb.autoscale.controller import Controller
from ebb.autoscale.policies import make_policy
from ebb.autoscale.sources.prometheus import PrometheusSource
from ebb.autoscale.types import ScalingInput
from ebb.core.clock import MonotonicClock
from tests.conftest import start_server

pytestmark = pytest.mark.skipif(shutil.which("prometheus") is None,
                                reason="Debian's prometheus is missing: `make test` installs it")
BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}


class _Applied:
    def __init__(self) -> None:
        self.desired: list[int] = []

    async def apply(self, desired_workers: int) -> None:
        self.desired.append(desired_workers)

    def decided(self, model: str, policy: str, direction: str, current: int,
                desired: int) -> None:
        pass


async def _drive(url: str, applied: _Applied, deadline: float) -> ScalingInput:
    """Tick a controller on PromQL signals until it scales up (or the deadline passes)."""
    source = PrometheusSource(url, "sleep", slo_s=0.2, window="10s")
    controller = Controller("sleep", make_policy("ebb"), source, applied, 1.0, applied,
                            MonotonicClock())
    try:
        signal = await source.read(time.monotonic())
        while time.monotonic() < deadline and (signal.arrival_rate < 20 or not applied.desired):
            await asyncio.sleep(1)
            signal = await source.read(time.monotonic())
            await controller.step()
        return signal
    finally:
        await source.close()


def test_policy_driven_by_promql_sees_the_load(tmp_path: Path) -> None:
    server = start_server(tmp_path, "builtin:sleep?ms=30", "--max-batch-size", "1",
                          "--workers", "1", "--prometheus")
    stop = threading.Event()

    def post(http: httpx.Client) -> None:
        with contextlib.suppress(httpx.HTTPError):  # load is best effort; the signal is checked
            http.post("/v2/models/sleep/infer", json=BODY)

    def load() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            threads = []
            while not stop.is_set():
                thread = threading.Thread(target=post, args=(http,))
                thread.start()
                threads.append(thread)
                time.sleep(1 / 60)  # 60 req/s: about twice what one 30 ms worker can do
            for thread in threads:
                thread.join()

    sender = threading.Thread(target=load)
    try:
        deadline = time.monotonic() + 60
        url = None
        while url is None and time.monotonic() < deadline:
            found = re.search(r"Prometheus (http://127\.0\.0\.1:\d+)", server.log())
            url = found.group(1) if found else None
            time.sleep(0.2)
        assert url, server.log()
        sender.start()
        applied = _Applied()
        signal = asyncio.run(_drive(url, applied, deadline))
        assert signal.metric_available
        assert signal.arrival_rate > 20 and signal.service_time_s > 0.02
        assert applied.desired and applied.desired[-1] >= 2
    finally:
        stop.set()
        if sender.is_alive():
            sender.join()
        server.stop()
