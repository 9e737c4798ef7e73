"""The kserve SDK's InferenceRESTClient and InferenceGRPCClient, unchanged, against ``ebb serve``.

``kserve`` pins dependencies that conflict with ebb's, so it lives in its own venv, the one the
serving benchmark creates (``bench/.venv-kserve``); the client runs there as a subprocess
(``_kserve_client.py``). Without that venv these tests are skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.conftest import RunningServer
from tests.protocol._dump_descriptors import EBB_MODULE, MESSAGES, dump_in_subprocess

HERE = Path(__file__).parent
KSERVE_PYTHON = HERE.parents[1] / "bench" / ".venv-kserve" / "bin" / "python"
EXPECTED = (np.arange(32, dtype=np.float32).reshape(2, 16) * 2).tolist()

Results = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def results(request: pytest.FixtureRequest) -> Results:
    if not KSERVE_PYTHON.exists():
        pytest.skip(f"no kserve venv at {KSERVE_PYTHON.relative_to(HERE.parents[1])}; "
                    "the serving benchmark (bench/serving) creates it")
    double_server: RunningServer = request.getfixturevalue("double_server")
    process = subprocess.run(
        [str(KSERVE_PYTHON), str(HERE / "_kserve_client.py"), double_server.url,
         double_server.grpc_target], capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    parsed: Results = json.loads(process.stdout)
    return parsed


def value(results: Results, scenario: str) -> Any:
    result = results[scenario]
    assert "value" in result, f"{scenario} failed: {result.get('error')}"
    return result["value"]


def test_rest_health(results: Results) -> None:
    assert value(results, "rest_live") is True
    assert value(results, "rest_ready") is True
    assert value(results, "rest_model_ready") is True
    assert value(results, "rest_model_ready_unknown") is False


@pytest.mark.parametrize("scenario", ["rest_infer_json", "rest_infer_binary", "grpc_infer_raw",
                                      "grpc_infer_typed"])
def test_infer(results: Results, scenario: str) -> None:
    assert value(results, scenario) == {
        "id": "kserve-" + scenario.replace("_infer_", "-"),
        "model_name": "double", "name": "OUTPUT0", "datatype": "FP32", "shape": [2, 16],
        "data": EXPECTED,
    }


def test_unknown_model(results: Results) -> None:
    rest = results["rest_unknown_model"]["error"]
    assert rest["status"] == "404"
    assert "model 'nope' is not served" in rest["message"]
    grpc = results["grpc_unknown_model"]["error"]
    assert grpc["status"] == "StatusCode.NOT_FOUND"
    assert "model 'nope' is not served" in grpc["message"]


def test_grpc_health_and_metadata(results: Results) -> None:
    assert value(results, "grpc_ready") == [True, True, True]
    assert value(results, "grpc_model_metadata") == {
        "name": "double", "versions": ["1"], "platform": "ebb_builtin",
        "inputs": [["INPUT0", "FP32", [-1, 16]]], "outputs": [["OUTPUT0", "FP32", [-1, 16]]],
    }
    server = value(results, "grpc_server_metadata")
    assert server["name"] == "ebb"
    assert "binary_tensor_data" in server["extensions"]


def test_proto_fields_agree_with_kserve(results: Results) -> None:
    """Every field kserve's proto defines is in ebb's with the same number and type.

    kserve 0.21's InferParameter lacks the spec's ``double_param`` (4) and ``uint64_param`` (5),
    so ebb may have more fields; never different ones.
    """
    kserve = value(results, "descriptors")
    ebb = dump_in_subprocess(sys.executable, EBB_MODULE)
    for message in MESSAGES:
        theirs, ours = kserve["messages"][message], ebb["messages"][message]
        assert {name: ours.get(name) for name in theirs} == theirs, message
        extra = set(ours) - set(theirs)
        assert not extra or (message, extra) == ("inference.InferParameter",
                                                 {"double_param", "uint64_param"}), message
