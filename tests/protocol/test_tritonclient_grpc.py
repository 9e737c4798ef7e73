"""tritonclient.grpc, NVIDIA's own client, used unchanged against a real ``ebb serve``.

tritonclient.grpc registers the protobuf package ``inference``, as ebb's generated stubs do; the
two cannot be imported into one process. So the client runs once, in a subprocess
(``_triton_grpc_client.py``), every scenario of this module, and the tests read its JSON results.
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
from tests.protocol._tensors import assert_same_tensor, decode, sample_arrays

HERE = Path(__file__).parent
X = np.arange(32, dtype=np.float32).reshape(2, 16)  # the script's DOUBLE_INPUT

Results = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def results(double_server: RunningServer, identity_server: RunningServer) -> Results:
    targets = {"double": double_server.grpc_target, "identity": identity_server.grpc_target}
    process = subprocess.run(
        [sys.executable, str(HERE / "_triton_grpc_client.py"), json.dumps(targets), "api"],
        capture_output=True, text=True, timeout=90)
    assert process.returncode == 0, process.stderr
    parsed: Results = json.loads(process.stdout)
    return parsed


def value(results: Results, scenario: str) -> Any:
    result = results[scenario]
    assert "value" in result, f"{scenario} failed: {result.get('error')}"
    return result["value"]


def error(results: Results, scenario: str, status: str) -> str:
    result = results[scenario]
    assert "error" in result, f"{scenario} should fail with {status}, got {result['value']}"
    assert result["error"]["status"] == f"StatusCode.{status}", result["error"]
    message: str = result["error"]["message"]
    assert "Traceback" not in message
    return message


def test_health(results: Results) -> None:
    assert value(results, "live") is True
    assert value(results, "ready") is True


def test_server_metadata(results: Results) -> None:
    metadata = value(results, "server_metadata")
    assert metadata["name"] == "ebb"
    assert metadata["version"]
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_ready(results: Results) -> None:
    assert value(results, "model_ready") is True
    assert value(results, "model_ready_version") is True


def test_an_unknown_model_is_not_ready(results: Results) -> None:
    """tritonclient raises NOT_FOUND (as KServe answers) or returns False (as Triton does)."""
    result = results["model_ready_unknown"]
    if "value" in result:
        assert result["value"] is False
    else:
        assert "'nope'" in error(results, "model_ready_unknown", "NOT_FOUND")


@pytest.mark.parametrize("scenario", ["model_metadata", "model_metadata_version"])
def test_model_metadata(results: Results, scenario: str) -> None:
    assert value(results, scenario) == {
        "name": "double", "versions": ["1"], "platform": "ebb_builtin",
        "inputs": [["INPUT0", "FP32", [-1, 16]]], "outputs": [["OUTPUT0", "FP32", [-1, 16]]],
    }


def test_metadata_of_unknown_models_and_versions_is_not_found(results: Results) -> None:
    assert "'nope'" in error(results, "model_metadata_unknown", "NOT_FOUND")
    assert "no version '9'" in error(results, "model_metadata_bad_version", "NOT_FOUND")


def test_infer_answers_raw_outputs_and_echoes_the_id(results: Results) -> None:
    answer = value(results, "infer")
    assert answer["id"] == "grpc-request-7"
    assert (answer["model_name"], answer["model_version"]) == ("double", "1")
    assert answer["outputs"] == ["OUTPUT0"]
    assert answer["raw_output_contents"] == 1  # all tritonclient.grpc reads
    assert_same_tensor(decode(answer["tensors"]["OUTPUT0"]), X * 2, "FP32")
    assert value(results, "infer_no_id")["id"] == ""


@pytest.mark.parametrize("scenario", ["infer_version", "infer_parameters", "infer_timeout",
                                      "infer_gzip"])
def test_infer_options_are_accepted(results: Results, scenario: str) -> None:
    """A named version, custom parameters, tritonclient's timeouts, gzip message compression."""
    assert_same_tensor(decode(value(results, scenario)["tensors"]["OUTPUT0"]), X * 2, "FP32")


def test_large_tensor_round_trips(results: Results) -> None:
    assert value(results, "infer_large") == {"shape": [262_144, 16], "equal": True}


@pytest.mark.parametrize(("scenario", "status", "fragment"), [
    ("infer_unknown_model", "NOT_FOUND", "model 'nope' is not served"),
    ("infer_bad_version", "NOT_FOUND", "no version '9'"),
    ("infer_wrong_datatype", "INVALID_ARGUMENT", "must be FP32, got INT32"),
    ("infer_wrong_shape", "INVALID_ARGUMENT", "has shape [1, 8], the model expects [-1, 16]"),
    ("infer_wrong_rank", "INVALID_ARGUMENT", "has shape [16], the model expects [-1, 16]"),
    ("infer_missing_input", "INVALID_ARGUMENT", "needs input(s) INPUT0"),
    ("infer_unknown_output", "INVALID_ARGUMENT", "no output 'NOPE'"),
    ("typed_too_few", "INVALID_ARGUMENT", "15 elements in contents, but shape [1, 16] needs 16"),
    ("raw_too_short", "INVALID_ARGUMENT", "60 bytes of raw data, but shape [1, 16] of FP32 "
                                          "needs 64"),
    ("raw_for_some_inputs", "INVALID_ARGUMENT", "every input or none"),
    ("typed_fp16", "INVALID_ARGUMENT", "FP16 data must be sent in raw_input_contents"),
])
def test_errors_have_the_right_status_and_say_why(results: Results, scenario: str, status: str,
                                                 fragment: str) -> None:
    assert fragment in error(results, scenario, status)


def test_raw_and_typed_contents_for_one_input_are_refused(results: Results) -> None:
    assert "contents" in error(results, "raw_and_contents_for_one_input", "INVALID_ARGUMENT")


def test_typed_contents_are_answered_in_typed_contents(results: Results) -> None:
    answer = value(results, "typed_contents")
    assert answer["id"] == "typed-double"
    assert answer["raw_output_contents"] == 0
    assert answer["shape"] == [1, 16]
    assert answer["fp32_contents"] == [float(i) for i in range(16)]


def test_requested_outputs_are_the_only_ones_answered(results: Results) -> None:
    answer = value(results, "outputs_subset")
    assert sorted(answer["outputs"]) == ["OUT_BYTES", "OUT_INT8"]
    assert answer["raw_output_contents"] == 2
    arrays = sample_arrays(json_safe=False)
    for datatype in ("INT8", "BYTES"):
        assert_same_tensor(decode(answer["tensors"][f"OUT_{datatype}"]), arrays[datatype],
                           datatype)
