"""The /metrics endpoint of a real server under traffic, checked by Prometheus' own promtool."""

from __future__ import annotations

import shutil
import subprocess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ebb.metrics import names
from tests.conftest import RunningServer

BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [2, 16], "data": [1] * 32}]}


def _families(server: RunningServer) -> dict[str, object]:
    for _ in range(5):
        httpx.post(f"{server.url}/v2/models/double/infer", json=BODY, timeout=10)
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_every_documented_metric_is_exported(double_server: RunningServer) -> None:
    families = _families(double_server)
    expected = [names.QUEUE_DEPTH, names.INFLIGHT_REQUESTS, names.WORKERS, names.REQUESTS,
                names.REQUEST_DURATION, names.QUEUE_WAIT, names.INFERENCE_DURATION,
                names.BATCH_SIZE, names.QUEUE_REJECTIONS, names.WORKER_RESTARTS,
                names.WORKER_START, names.WORKER_CPU, names.WORKER_MEMORY,
                "process_cpu_seconds", "process_resident_memory_bytes"]
    missing = [name for name in expected if name not in families]
    assert not missing


def test_values_match_what_happened(double_server: RunningServer) -> None:
    text = httpx.get(f"{double_server.url}/metrics", timeout=10).text
    before = _sample(text, 'ebb_requests_total{code="200",model="double",protocol="rest"}')
    for _ in range(3):
        httpx.post(f"{double_server.url}/v2/models/double/infer", json=BODY, timeout=10)
    text = httpx.get(f"{double_server.url}/metrics", timeout=10).text
    after = _sample(text, 'ebb_requests_total{code="200",model="double",protocol="rest"}')
    assert after - before == 3
    assert _sample(text, 'ebb_workers{model="double",state="ready"}') == 2
    assert _sample(text, 'ebb_queue_depth{model="double"}') == 0


def _sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not in /metrics")


def test_openmetrics_when_asked(double_server: RunningServer) -> None:
    response = httpx.get(f"{double_server.url}/metrics", timeout=10,
                         headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


@pytest.mark.skipif(shutil.which("promtool") is None,
                    reason="promtool missing: `make test` installs Debian's prometheus")
def test_promtool_accepts_the_exposition(double_server: RunningServer) -> None:
    _families(double_server)
    text = httpx.get(f"{double_server.url}/metrics", timeout=10).text
    result = subprocess.run(["promtool", "check", "metrics"], input=text, text=True,
                            capture_output=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_anomaly_signals_are_exported(double_server: RunningServer) -> None:
    import time

    deadline = time.monotonic() + 15
    text = ""
    while time.monotonic() < deadline:
        _families(double_server)
        text = httpx.get(f"{double_server.url}/metrics", timeout=10).text
        if 'signal="error_ratio"' in text:
            break
        time.sleep(0.5)
    for signal in ("arrival_rate", "latency", "queue_wait", "error_ratio"):
        assert f'ebb_anomaly_score{{model="double",signal="{signal}"}}' in text
        assert f'ebb_anomaly_active{{model="double",signal="{signal}"}} 0.0' in text
