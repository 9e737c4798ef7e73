"""tritonclient.grpc against a running ``ebb serve``; prints one JSON object of results.

Run as ``python _triton_grpc_client.py TARGETS GROUP`` where TARGETS is a JSON object of gRPC
addresses (``double``, ``identity``, ``identity_typed``) and GROUP is ``api`` or ``datatypes``.
It runs in its own process because tritonclient.grpc and ebb's generated stubs both register the
protobuf package ``inference`` and cannot share one. Each scenario's result is
``{"value": ...}`` or ``{"error": {"status": "StatusCode.X", "message": ...}}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import grpc
import numpy as np
import tritonclient.grpc as triton
from _tensors import CONTENTS_FIELD, NUMPY, encode, sample_arrays
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

DOUBLE_INPUT = np.arange(32, dtype=np.float32).reshape(2, 16)
LARGE_ROWS = 262_144
"""16 MiB of FP32: over gRPC's 4 MiB default message limit."""


def _input(name: str, array: np.ndarray, datatype: str) -> triton.InferInput:
    tensor = triton.InferInput(name, list(array.shape), datatype)
    tensor.set_data_from_numpy(array)
    return tensor


def _fp32(array: np.ndarray = DOUBLE_INPUT, name: str = "INPUT0") -> list[triton.InferInput]:
    return [_input(name, array, "FP32")]


def _metadata(message: Any) -> dict[str, Any]:
    def specs(items: Any) -> list[list[Any]]:
        return [[item.name, item.datatype, list(item.shape)] for item in items]

    return {"name": message.name, "versions": list(message.versions),
            "platform": message.platform, "inputs": specs(message.inputs),
            "outputs": specs(message.outputs)}


def _result(result: Any, names: list[str]) -> dict[str, Any]:
    response = result.get_response()
    return {
        "id": response.id,
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": [output.name for output in response.outputs],
        "raw_output_contents": len(response.raw_output_contents),
        "tensors": {name: encode(result.as_numpy(name)) for name in names},
    }


def _typed_request(model: str, arrays: dict[str, np.ndarray]) -> Any:
    request = service_pb2.ModelInferRequest(model_name=model, id="typed-1")
    for datatype, array in arrays.items():
        tensor = request.inputs.add(name=f"IN_{datatype}", datatype=datatype, shape=array.shape)
        if datatype in CONTENTS_FIELD:
            getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(array.reshape(-1).tolist())
    return request


def _typed_response(response: Any) -> dict[str, Any]:
    tensors = {}
    if response.raw_output_contents:
        return {"id": response.id, "raw_output_contents": len(response.raw_output_contents),
                "outputs": [output.name for output in response.outputs]}
    for output in response.outputs:
        values = list(getattr(output.contents, CONTENTS_FIELD[output.datatype]))
        array = np.empty(len(values), dtype=object)
        array[:] = values
        if output.datatype != "BYTES":
            array = np.array(values, dtype=NUMPY[output.datatype])
        tensors[output.name] = encode(array.reshape(list(output.shape)))
    return {"id": response.id, "raw_output_contents": len(response.raw_output_contents),
            "outputs": [output.name for output in response.outputs], "tensors": tensors}


def api_scenarios(targets: dict[str, str]) -> dict[str, Callable[[], Any]]:
    client = triton.InferenceServerClient(targets["double"])
    identity = triton.InferenceServerClient(targets["identity"])
    stub = service_pb2_grpc.GRPCInferenceServiceStub(grpc.insecure_channel(targets["double"]))
    identity_stub = service_pb2_grpc.GRPCInferenceServiceStub(
        grpc.insecure_channel(targets["identity"]))
    ones = np.ones((1, 16), dtype=np.float32)

    def infer(**kwargs: Any) -> dict[str, Any]:
        kwargs.setdefault("model_name", "double")
        kwargs.setdefault("inputs", _fp32())
        return _result(client.infer(**kwargs), ["OUTPUT0"])

    def large() -> dict[str, Any]:
        data = np.random.default_rng(7).random((LARGE_ROWS, 16), dtype=np.float32)
        output = client.infer("double", _fp32(data)).as_numpy("OUTPUT0")
        return {"shape": list(output.shape), "equal": bool(np.array_equal(output, data * 2))}

    def subset() -> dict[str, Any]:
        arrays = sample_arrays(json_safe=False)
        inputs = [_input(f"IN_{dt}", array, dt) for dt, array in arrays.items()]
        outputs = [triton.InferRequestedOutput(name) for name in ("OUT_INT8", "OUT_BYTES")]
        return _result(identity.infer("identity", inputs, outputs=outputs),
                       ["OUT_INT8", "OUT_BYTES"])

    def raw_request(payload: bytes, contents: list[float]) -> Any:
        request = service_pb2.ModelInferRequest(model_name="double")
        tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16])
        tensor.contents.fp32_contents.extend(contents)
        request.raw_input_contents.append(payload)
        return _typed_response(stub.ModelInfer(request))

    def raw_for_some_inputs() -> Any:
        """Typed contents for every input but FP16, which comes raw: raw must be all or none."""
        request = _typed_request("identity", sample_arrays(json_safe=True))
        request.raw_input_contents.append(sample_arrays(json_safe=True)["FP16"].tobytes())
        return _typed_response(identity_stub.ModelInfer(request))

    def typed(values: list[float]) -> Any:
        request = service_pb2.ModelInferRequest(model_name="double", id="typed-double")
        tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16])
        tensor.contents.fp32_contents.extend(values)
        response = stub.ModelInfer(request)
        return {"id": response.id, "raw_output_contents": len(response.raw_output_contents),
                "shape": list(response.outputs[0].shape),
                "fp32_contents": list(response.outputs[0].contents.fp32_contents)}

    return {
        "live": client.is_server_live,
        "ready": client.is_server_ready,
        "server_metadata": lambda: {
            "name": (meta := client.get_server_metadata()).name, "version": meta.version,
            "extensions": list(meta.extensions)},
        "model_ready": lambda: client.is_model_ready("double"),
        "model_ready_version": lambda: client.is_model_ready("double", "1"),
        "model_ready_unknown": lambda: client.is_model_ready("nope"),
        "model_metadata": lambda: _metadata(client.get_model_metadata("double")),
        "model_metadata_version": lambda: _metadata(client.get_model_metadata("double", "1")),
        "model_metadata_unknown": lambda: _metadata(client.get_model_metadata("nope")),
        "model_metadata_bad_version": lambda: _metadata(client.get_model_metadata("double", "9")),
        "infer": lambda: infer(request_id="grpc-request-7"),
        "infer_no_id": lambda: infer(),
        "infer_version": lambda: infer(model_version="1"),
        "infer_parameters": lambda: infer(parameters={"custom": "value", "count": 3}),
        "infer_timeout": lambda: infer(timeout=5_000_000, client_timeout=10),
        "infer_gzip": lambda: infer(compression_algorithm="gzip"),
        "infer_large": large,
        "infer_unknown_model": lambda: infer(model_name="nope"),
        "infer_bad_version": lambda: infer(model_version="9"),
        "infer_wrong_datatype": lambda: infer(
            inputs=[_input("INPUT0", ones.astype(np.int32), "INT32")]),
        "infer_wrong_shape": lambda: infer(inputs=_fp32(np.ones((1, 8), dtype=np.float32))),
        "infer_wrong_rank": lambda: infer(inputs=_fp32(np.ones(16, dtype=np.float32))),
        "infer_missing_input": lambda: infer(inputs=_fp32(ones, name="OTHER")),
        "infer_unknown_output": lambda: infer(outputs=[triton.InferRequestedOutput("NOPE")]),
        "outputs_subset": subset,
        "typed_contents": lambda: typed([0.5 * i for i in range(16)]),
        "typed_too_few": lambda: typed([1.0] * 15),
        "raw_too_short": lambda: raw_request(b"\0" * 60, []),
        "raw_and_contents_for_one_input": lambda: raw_request(b"\0" * 64, [1.0] * 16),
        "raw_for_some_inputs": raw_for_some_inputs,
        "typed_fp16": lambda: identity_stub.ModelInfer(
            _typed_request("identity", sample_arrays(json_safe=True))),
    }


def datatype_scenarios(targets: dict[str, str]) -> dict[str, Callable[[], Any]]:
    def raw() -> dict[str, Any]:
        client = triton.InferenceServerClient(targets["identity"])
        arrays = sample_arrays(json_safe=False)
        inputs = [_input(f"IN_{dt}", array, dt) for dt, array in arrays.items()]
        return _result(client.infer("identity", inputs, request_id="raw-1"),
                       [f"OUT_{dt}" for dt in arrays])

    def typed() -> dict[str, Any]:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(
            grpc.insecure_channel(targets["identity_typed"]))
        arrays = {dt: array for dt, array in sample_arrays(json_safe=False).items()
                  if dt in CONTENTS_FIELD}
        return _typed_response(stub.ModelInfer(_typed_request("identity_typed", arrays)))

    return {"grpc-raw": raw, "grpc-typed": typed}


def _run(scenario: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"value": scenario()}
    except InferenceServerException as error:
        return {"error": {"status": error.status(), "message": error.message()}}
    except grpc.RpcError as error:
        return {"error": {"status": str(error.code()), "message": error.details()}}


def main() -> None:
    targets = json.loads(sys.argv[1])
    groups = {"api": api_scenarios, "datatypes": datatype_scenarios}
    scenarios = groups[sys.argv[2]](targets)
    json.dump({name: _run(scenario) for name, scenario in scenarios.items()}, sys.stdout)


if __name__ == "__main__":
    main()
