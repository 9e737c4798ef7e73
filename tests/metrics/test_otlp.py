"""OTLP export of a real server's metrics to a small local OTLP/HTTP receiver in this test.

The receiver is ours (a stdlib HTTP server decoding the official OTLP protobuf messages), since no
OpenTelemetry Collector binary can be installed here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2

from tests.conftest import start_server


class _Receiver(BaseHTTPRequestHandler):
    received: list[metrics_service_pb2.ExportMetricsServiceRequest] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        assert self.path == "/v1/metrics"
        assert self.headers["content-type"] == "application/x-protobuf"
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[metrics_service_pb2.ExportMetricsServiceRequest]]]:
    _Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Receiver.received
    server.shutdown()


def test_server_pushes_its_metrics_as_otlp(tmp_path: Path, receiver: tuple[str, list[
        metrics_service_pb2.ExportMetricsServiceRequest]]) -> None:
    endpoint, received = receiver
    server = start_server(tmp_path, "builtin:double", "--otlp-endpoint", endpoint,
                          "--otlp-interval-s", "0.3")
    try:
        body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16],
                            "data": [1] * 16}]}
        for _ in range(3):
            httpx.post(f"{server.url}/v2/models/double/infer", json=body, timeout=10)
        deadline = time.monotonic() + 15
        names: dict[str, object] = {}
        while time.monotonic() < deadline:
            for request in list(received):
                for metric in request.resource_metrics[0].scope_metrics[0].metrics:
                    names[metric.name] = metric
            requests = names.get("ebb_requests_total")
            if requests is not None and sum(p.as_double for p in requests.sum.data_points) >= 3:
                break
            time.sleep(0.2)
    finally:
        server.stop()
    assert {"ebb_queue_depth", "ebb_requests_total", "ebb_request_duration_seconds",
            "ebb_workers"} <= set(names)
    duration = names["ebb_request_duration_seconds"]
    point = duration.histogram.data_points[0]
    assert point.count >= 3 and sum(point.bucket_counts) == point.count
    assert len(point.bucket_counts) == len(point.explicit_bounds) + 1
    assert received[0].resource_metrics[0].resource.attributes[0].value.string_value == "ebb"


def test_failed_pushes_back_off_and_log_once_per_outage(
        receiver: tuple[str, list[metrics_service_pb2.ExportMetricsServiceRequest]],
        caplog: pytest.LogCaptureFixture) -> None:
    import socket

    from prometheus_client import CollectorRegistry

    from ebb.metrics.otlp import MAX_BACKOFF_INTERVALS, OtlpExporter, retry_delay

    assert [retry_delay(n, 1.0) for n in range(7)] == [1, 2, 4, 8, 16, 32, 32]
    assert MAX_BACKOFF_INTERVALS == 32
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    down = OtlpExporter(CollectorRegistry(), f"http://127.0.0.1:{closed}", "ebb", timeout_s=2)
    with caplog.at_level("INFO", logger="ebb.otlp"):
        assert not any(down.push() for _ in range(5))
        assert down.retry_delay(10.0) == 320.0
        down._url = receiver[0] + "/v1/metrics"  # the collector comes back
        assert down.push() and down.retry_delay(10.0) == 10.0
    down.close()
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "ebb.otlp"]
    assert len(lines) == 2
    assert lines[0][0] == "WARNING" and "retrying with exponential backoff" in lines[0][1]
    assert lines[1] == ("INFO", f"OTLP export to {down._url} recovered after 5 failed pushes")
