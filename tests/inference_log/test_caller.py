"""Who asked and how: a server with API keys logs each request's key id and protocol."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import pytest

from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from tests.conftest import start_server
from tests.inference_log.test_store import sql

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
DATA = [float(i) for i in range(16)]


def _key(keys_file: Path, key_id: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ebb.cli", "keys", "create", "--file",
                           str(keys_file), "--id", key_id, "--role", "infer"],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip()


def test_key_id_and_protocol_are_logged_for_rest_and_grpc(tmp_path: Path, log_url: str) -> None:
    keys = tmp_path / "keys.toml"
    secrets = {key_id: _key(keys, key_id) for key_id in ("web", "batch")}
    server = start_server(tmp_path, "builtin:double", "--auth-keys-file", str(keys),
                          "--inference-log", log_url)
    body = {"id": "v2", "inputs": [
        {"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": DATA}]}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        web = {"authorization": f"Bearer {secrets['web']}"}
        assert client.post("/v2/models/double/infer", json=body, headers=web).status_code == 200
        missing = {"id": "v2-bad", "inputs": [  # refused by the dispatcher: still logged
            {"name": "WRONG", "datatype": "FP32", "shape": [1, 16], "data": DATA}]}
        assert client.post("/v2/models/double/infer", json=missing,
                           headers=web).status_code == 400
        assert client.post("/v2/models/double/infer", json=body).status_code == 401
    request = pb.ModelInferRequest(model_name="double", id="g1")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16]).contents \
        .fp32_contents.extend(DATA)
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        stub.ModelInfer(request, timeout=30,
                        metadata=(("authorization", f"Bearer {secrets['batch']}"),))
    assert server.stop() == 0
    assert sorted(sql(log_url, "SELECT client_request_id, protocol, api_key_id, status "
                               "FROM request_log"), key=str) == [
        ("g1", "grpc", "batch", 200), ("v2", "rest", "web", 200),
        ("v2-bad", "rest", "web", 400), (None, "rest", None, 401)]  # refused by the gate
    shown = subprocess.run([sys.executable, "-m", "ebb.cli", "log", "query", "--db", log_url,
                            "--format", "csv"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0].endswith(",protocol,api_key_id")
    assert any(line.endswith(",grpc,batch") for line in shown.stdout.splitlines())
