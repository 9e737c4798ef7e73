"""tritonclient.http, NVIDIA's own client, used unchanged against a real ``ebb serve``.

tritonclient.http imports no protobuf stubs, so it runs in the pytest process; tritonclient.grpc
does not (see test_tritonclient_grpc.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tests.conftest import RunningServer
from tests.protocol._tensors import DATATYPES, assert_same_tensor, sample_arrays

X = np.arange(32, dtype=np.float32).reshape(2, 16) - 7.25


@pytest.fixture(scope="module")
def client(double_server: RunningServer) -> Iterator[triton.InferenceServerClient]:
    http = triton.InferenceServerClient(double_server.url.removeprefix("http://"),
                                        network_timeout=30)
    yield http
    http.close()


@pytest.fixture(scope="module")
def identity(identity_server: RunningServer) -> Iterator[triton.InferenceServerClient]:
    http = triton.InferenceServerClient(identity_server.url.removeprefix("http://"),
                                        concurrency=8, network_timeout=30)
    yield http
    http.close()


def _input(array: np.ndarray, name: str = "INPUT0", datatype: str = "FP32",
           binary: bool = True) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array, binary_data=binary)
    return tensor


def _identity_inputs(arrays: dict[str, np.ndarray]) -> list[triton.InferInput]:
    return [_input(array, f"IN_{dt}", dt) for dt, array in arrays.items()]


def test_health(client: triton.InferenceServerClient) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()


def test_server_metadata_lists_the_binary_extension(
        client: triton.InferenceServerClient) -> None:
    metadata = client.get_server_metadata()
    assert metadata["name"] == "ebb"
    assert metadata["version"]
    assert "binary_tensor_data" in metadata["extensions"]


def test_model_ready(client: triton.InferenceServerClient) -> None:
    assert client.is_model_ready("double")
    assert client.is_model_ready("double", "1")
    assert not client.is_model_ready("nope")
    assert not client.is_model_ready("double", "9")


@pytest.mark.parametrize("version", ["", "1"])
def test_model_metadata(client: triton.InferenceServerClient, version: str) -> None:
    assert client.get_model_metadata("double", version) == {
        "name": "double", "versions": ["1"], "platform": "ebb_builtin",
        "inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, 16]}],
        "outputs": [{"name": "OUTPUT0", "datatype": "FP32", "shape": [-1, 16]}],
    }


def test_metadata_of_an_unknown_model_is_404(client: triton.InferenceServerClient) -> None:
    with pytest.raises(InferenceServerException) as caught:
        client.get_model_metadata("nope")
    assert caught.value.status() == "404"
    assert "'nope'" in caught.value.message()


@pytest.mark.parametrize("input_binary", [True, False], ids=["in-binary", "in-json"])
@pytest.mark.parametrize("output_binary", [True, False], ids=["out-binary", "out-json"])
def test_infer_binary_and_json_in_any_mix(client: triton.InferenceServerClient,
                                          input_binary: bool, output_binary: bool) -> None:
    result = client.infer("double", [_input(X, binary=input_binary)],
                          outputs=[triton.InferRequestedOutput("OUTPUT0",
                                                               binary_data=output_binary)])
    assert_same_tensor(result.as_numpy("OUTPUT0"), X * 2, "FP32")
    output = result.get_output("OUTPUT0")
    assert output["datatype"] == "FP32"
    assert output["shape"] == [2, 16]
    if output_binary:
        assert output["parameters"]["binary_data_size"] == X.nbytes
        assert "data" not in output
    else:
        assert output["data"] == (X * 2).reshape(-1).tolist()


def test_default_request_gets_binary_outputs(client: triton.InferenceServerClient) -> None:
    """No requested outputs: tritonclient sets binary_data_output, so every output is binary."""
    result = client.infer("double", [_input(X)])
    assert result.get_output("OUTPUT0")["parameters"] == {"binary_data_size": X.nbytes}
    assert_same_tensor(result.as_numpy("OUTPUT0"), X * 2, "FP32")


def test_request_id_is_echoed(client: triton.InferenceServerClient) -> None:
    response = client.infer("double", [_input(X)], request_id="req-42").get_response()
    assert response["id"] == "req-42"
    assert response["model_name"] == "double"
    assert response["model_version"] == "1"
    assert client.infer("double", [_input(X)]).get_response().get("id", "") == ""


def test_infer_a_named_version(client: triton.InferenceServerClient) -> None:
    result = client.infer("double", [_input(X)], model_version="1")
    assert_same_tensor(result.as_numpy("OUTPUT0"), X * 2, "FP32")


def test_custom_parameters_and_timeout_are_accepted(
        client: triton.InferenceServerClient) -> None:
    result = client.infer("double", [_input(X)], parameters={"tag": "a", "count": 3},
                          timeout=5_000_000)
    assert_same_tensor(result.as_numpy("OUTPUT0"), X * 2, "FP32")


def test_response_compression_is_understood(client: triton.InferenceServerClient) -> None:
    for algorithm in ("gzip", "deflate"):
        result = client.infer("double", [_input(X)], response_compression_algorithm=algorithm)
        assert_same_tensor(result.as_numpy("OUTPUT0"), X * 2, "FP32")


def test_compressed_request_is_inferred_or_refused_clearly(
        client: triton.InferenceServerClient) -> None:
    for algorithm in ("gzip", "deflate"):
        result = client.infer("double", [_input(X)], request_compression_algorithm=algorithm)
        assert_same_tensor(result.as_numpy("OUTPUT0"), X * 2, "FP32")


def test_large_binary_tensor_round_trips(client: triton.InferenceServerClient) -> None:
    data = np.random.default_rng(3).random((262_144, 16), dtype=np.float32)  # 16 MiB
    result = client.infer("double", [_input(data)])
    assert np.array_equal(result.as_numpy("OUTPUT0"), data * 2)


ONES = np.ones((1, 16), dtype=np.float32)


@pytest.mark.parametrize(("model", "version", "inputs", "outputs", "status", "fragment"), [
    ("nope", "", [_input(ONES)], None, "404", "model 'nope' is not served"),
    ("double", "9", [_input(ONES)], None, "404", "no version '9'"),
    ("double", "", [_input(ONES.astype(np.int32), datatype="INT32")], None, "400",
     "must be FP32, got INT32"),
    ("double", "", [_input(ONES.astype(np.int32), datatype="INT32", binary=False)], None,
     "400", "must be FP32, got INT32"),
    ("double", "", [_input(np.ones((1, 8), np.float32))], None, "400",
     "has shape [1, 8], the model expects [-1, 16]"),
    ("double", "", [_input(np.ones(16, np.float32))], None, "400",
     "has shape [16], the model expects [-1, 16]"),
    ("double", "", [_input(ONES, name="OTHER")], None, "400", "needs input(s) INPUT0"),
    ("double", "", [_input(ONES)], [triton.InferRequestedOutput("NOPE")], "400",
     "no output 'NOPE'"),
], ids=["unknown-model", "unknown-version", "wrong-datatype", "wrong-datatype-json",
        "wrong-shape", "wrong-rank", "missing-input", "unknown-output"])
def test_errors_surface_as_inference_server_exception(
        client: triton.InferenceServerClient, model: str, version: str,
        inputs: list[triton.InferInput], outputs: list[triton.InferRequestedOutput] | None,
        status: str, fragment: str) -> None:
    with pytest.raises(InferenceServerException) as caught:
        client.infer(model, inputs, model_version=version, outputs=outputs)
    assert caught.value.status() == status
    assert fragment in caught.value.message()
    assert "Traceback" not in caught.value.message()
    assert client.is_server_ready()


def test_requested_outputs_are_the_only_ones_answered(
        identity: triton.InferenceServerClient) -> None:
    arrays = sample_arrays(json_safe=True)
    wanted = ["OUT_UINT64", "OUT_BYTES", "OUT_FP16"]
    result = identity.infer("identity", _identity_inputs(arrays), outputs=[
        triton.InferRequestedOutput("OUT_UINT64"),
        triton.InferRequestedOutput("OUT_BYTES", binary_data=False),
        triton.InferRequestedOutput("OUT_FP16")])
    assert sorted(output["name"] for output in result.get_response()["outputs"]) == sorted(wanted)
    for name in wanted:
        datatype = name.removeprefix("OUT_")
        got = result.as_numpy(name)
        if datatype == "BYTES":  # tritonclient gives JSON BYTES back as str
            got = np.array([item.encode() for item in got.reshape(-1)], dtype=object).reshape(
                got.shape)
        assert_same_tensor(got, arrays[datatype], datatype)


def test_concurrent_requests_of_different_sizes_each_get_their_own_answer(
        identity: triton.InferenceServerClient) -> None:
    """Batched together on the server, answered apart: rows and BYTES are not mixed up."""
    base = sample_arrays(json_safe=False)
    requests = []
    for index in range(16):
        rows = index % 4 + 1
        arrays = {dt: np.resize(array.reshape(-1), (rows, 3)).astype(array.dtype)
                  for dt, array in base.items()}
        arrays["BYTES"] = np.array([f"request {index} item {item}".encode()
                                    for item in range(rows * 3)], dtype=object).reshape(rows, 3)
        arrays["INT64"] = np.full((rows, 3), index, dtype=np.int64)
        requests.append(arrays)
    pending = [identity.async_infer("identity", _identity_inputs(arrays), request_id=str(index))
               for index, arrays in enumerate(requests)]
    for index, (future, arrays) in enumerate(zip(pending, requests, strict=True)):
        result = future.get_result()
        assert result.get_response()["id"] == str(index)
        for datatype in DATATYPES:
            assert_same_tensor(result.as_numpy(f"OUT_{datatype}"), arrays[datatype], datatype)
