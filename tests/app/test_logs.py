"""Logs a user can work with (issue 14, part 2): start-up, workers, 5xx with tracebacks on the
server only, the access log in JSON, no third-party INFO lines, one OTLP warning per outage.

One live server of a Python class served from the test's own directory (rough edge 5), which
misbehaves on request: 7 in the input returns an undeclared output (rough edge 6), 13 raises.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest

from ebb.app.logs import QUIET_LIBRARIES, JsonFormatter, configure_logging
from tests.conftest import start_server

MODEL = '''
import numpy as np
from ebb import TensorSpec

class Moody:
    inputs = [TensorSpec("x", "FP32", (-1, 2))]
    outputs = [TensorSpec("y", "FP32", (-1, 2))]
    max_batch_size = 4

    def infer(self, inputs):
        x = inputs["x"]
        if (x == 13).any():
            raise ValueError("thirteen is unlucky")
        if (x == 7).any():
            return {"y": x, "secret": x}
        return {"y": x * 2}
'''


def _body(value: float, datatype: str = "FP32") -> dict[str, Any]:
    return {"inputs": [{"name": "x", "datatype": datatype, "shape": [1, 2],
                        "data": [value, 1.0]}]}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_server_log_access_log_and_errors(tmp_path: Path) -> None:
    (tmp_path / "h14_moody.py").write_text(MODEL)
    server = start_server(tmp_path, "h14_moody:Moody", "--access-log", "--log-format", "json",
                          "--cast-inputs", "--otlp-endpoint",
                          f"http://127.0.0.1:{_closed_port()}", "--otlp-interval-s", "0.1",
                          cwd=tmp_path)
    try:
        url = f"{server.url}/v2/models/moody/infer"
        assert httpx.post(url, json=_body(1.0)).json()["outputs"][0]["data"] == [2.0, 2.0]
        assert httpx.post(url, json=_body(1.0, "FP64")).status_code == 200  # --cast-inputs
        undeclared = httpx.post(url, json=_body(7.0))
        assert undeclared.status_code == 500
        assert "output(s) it does not declare: secret" in undeclared.json()["error"]
        failing = httpx.post(url, json=_body(13.0))
        assert failing.status_code == 500
        assert failing.json()["error"].endswith("ValueError: thirteen is unlucky")
        assert "Traceback" not in failing.text
        redirect = httpx.get(f"{server.url}/")
        assert (redirect.status_code, redirect.headers["location"]) == (307, "/dashboard")
        with grpc.insecure_channel(server.grpc_target) as channel:
            from ebb.protocol._generated import open_inference_pb2 as pb
            from ebb.protocol._generated import open_inference_pb2_grpc as stubs

            stubs.GRPCInferenceServiceStub(channel).ModelReady(pb.ModelReadyRequest(name="moody"))
        time.sleep(1.0)  # OTLP pushes keep failing meanwhile, backing off
    finally:
        assert server.stop() == 0
    lines = _json_lines(server.log())
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    messages = [line["message"] for line in lines]
    assert any(m.startswith("serving moody v1 on HTTP port") for m in messages)
    assert any("worker 1" in m and "ready in" in m for m in messages)
    assert any("worker 1" in m and "stopped" in m for m in messages)
    assert any(m.startswith("shutting down: readiness is off") for m in messages)  # JSON too
    assert "ebb: shutting down" not in server.log()
    failure = next(line for line in lines if "thirteen is unlucky" in line["message"])
    assert failure["level"] == "error" and "Traceback (most recent call last)" in (
        failure["message"]) and "h14_moody.py" in failure["message"]
    access = [line for line in lines if line["logger"] == "ebb.access"]
    rest = [line for line in access if line["protocol"] == "rest"]
    assert [(a["method"], a["status"], a["model"]) for a in rest[:4]] == [
        ("POST", 200, "moody"), ("POST", 200, "moody"), ("POST", 500, "moody"),
        ("POST", 500, "moody")]
    assert all(a["latency_ms"] >= 0 and a["path"] == "/v2/models/moody/infer" for a in rest[:4])
    (grpc_line,) = [a for a in access if a["protocol"] == "grpc"]
    assert (grpc_line["path"], grpc_line["status"], grpc_line["model"]) == (
        "/inference.GRPCInferenceService/ModelReady", "OK", "moody")
    otlp = [line for line in lines if line["logger"] == "ebb.otlp"]
    assert len(otlp) == 1 and otlp[0]["level"] == "warning"  # once per outage, not per push
    assert not [line for line in lines if line["logger"].split(".")[0] in ("httpx", "httpcore",
                                                                           "grpc", "uvicorn")]


def test_json_formatter_carries_fields_and_tracebacks() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = logging.getLogger("ebb.test").makeRecord(
            "ebb.test", logging.ERROR, __file__, 1, "failed %s", ("here",), __import__(
                "sys").exc_info(), extra={"fields": {"model": "m", "status": 500}})
    document = json.loads(JsonFormatter().format(record))
    assert document["message"] == "failed here" and document["level"] == "error"
    assert (document["model"], document["status"]) == ("m", 500)
    assert "RuntimeError: boom" in document["exception"]
    assert document["time"].endswith("Z")


def test_third_party_libraries_are_quiet_unless_debugging(
        monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    level = root.level
    try:
        configure_logging("info", "text")
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
        assert not logging.getLogger("grpc._cython").isEnabledFor(logging.INFO)
        assert logging.getLogger("ebb.app").isEnabledFor(logging.INFO)
        configure_logging("debug", "json")
        assert logging.getLogger("httpx").isEnabledFor(logging.DEBUG)
        assert isinstance(root.handlers[-1].formatter, JsonFormatter)
    finally:
        root.setLevel(level)
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.NOTSET)
