"""The kserve SDK's inference clients against a running ``ebb serve``; prints JSON results.

Run with the python of a venv that has ``kserve`` (it pins dependencies that conflict with ebb's,
and registers the protobuf package ``inference`` as ebb does):
``python _kserve_client.py HTTP_URL GRPC_TARGET``. Each scenario's result is ``{"value": ...}`` or
``{"error": {"status": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import httpx
import numpy as np
from _dump_descriptors import dump
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc.grpc_predict_v2_pb2_grpc import GRPCInferenceServiceStub
from kserve.protocol.infer_type import RequestedOutput

X = np.arange(32, dtype=np.float32).reshape(2, 16)


def _input(binary: bool | None) -> InferInput:
    """binary None: typed list data (gRPC ``contents``, REST JSON)."""
    if binary is None:
        return InferInput("INPUT0", [2, 16], "FP32", data=X.reshape(-1).tolist())
    tensor = InferInput("INPUT0", [2, 16], "FP32")
    tensor.set_data_from_numpy(X, binary_data=binary)
    return tensor


def _answer(response: Any) -> dict[str, Any]:
    output = response.outputs[0]
    return {"id": response.id, "model_name": response.model_name, "name": output.name,
            "datatype": output.datatype, "shape": list(output.shape),
            "data": output.as_numpy().tolist()}


def scenarios(http_url: str, grpc_target: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    rest = InferenceRESTClient(RESTConfig(protocol="v2", retries=0, timeout=30))
    stub = GRPCInferenceServiceStub(grpc.aio.insecure_channel(grpc_target))

    async def rest_infer(binary: bool, request_id: str, model: str = "double") -> Any:
        outputs = [RequestedOutput("OUTPUT0", {"binary_data": binary})]
        request = InferRequest(model, [_input(binary)], request_id=request_id,
                               request_outputs=outputs)
        return _answer(await rest.infer(http_url, request, model_name=model))

    async def grpc_infer(binary: bool | None, request_id: str, model: str = "double") -> Any:
        async with InferenceGRPCClient(grpc_target, retries=0, timeout=30) as client:
            return _answer(await client.infer(InferRequest(model, [_input(binary)],
                                                           request_id=request_id)))

    async def grpc_ready() -> Any:
        async with InferenceGRPCClient(grpc_target, retries=0, timeout=30) as client:
            return [await client.is_server_live(), await client.is_server_ready(),
                    await client.is_model_ready("double")]

    async def model_metadata() -> Any:
        response = await stub.ModelMetadata(pb.ModelMetadataRequest(name="double"), timeout=30)
        return {"name": response.name, "versions": list(response.versions),
                "platform": response.platform,
                "inputs": [[t.name, t.datatype, list(t.shape)] for t in response.inputs],
                "outputs": [[t.name, t.datatype, list(t.shape)] for t in response.outputs]}

    async def server_metadata() -> Any:
        response = await stub.ServerMetadata(pb.ServerMetadataRequest(), timeout=30)
        return {"name": response.name, "version": response.version,
                "extensions": list(response.extensions)}

    async def descriptors() -> Any:
        return dump("kserve.protocol.grpc.grpc_predict_v2_pb2")

    return {
        "rest_live": lambda: rest.is_server_live(http_url),
        "rest_ready": lambda: rest.is_server_ready(http_url),
        "rest_model_ready": lambda: rest.is_model_ready(http_url, "double"),
        "rest_model_ready_unknown": lambda: rest.is_model_ready(http_url, "nope"),
        "rest_infer_json": lambda: rest_infer(False, "kserve-rest-json"),
        "rest_infer_binary": lambda: rest_infer(True, "kserve-rest-binary"),
        "rest_unknown_model": lambda: rest_infer(False, "x", model="nope"),
        "grpc_ready": grpc_ready,
        "grpc_infer_raw": lambda: grpc_infer(True, "kserve-grpc-raw"),
        "grpc_infer_typed": lambda: grpc_infer(None, "kserve-grpc-typed"),
        "grpc_unknown_model": lambda: grpc_infer(True, "x", model="nope"),
        "grpc_model_metadata": model_metadata,
        "grpc_server_metadata": server_metadata,
        "descriptors": descriptors,
    }


async def _run(scenario: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    try:
        return {"value": await scenario()}
    except httpx.HTTPStatusError as error:
        return {"error": {"status": str(error.response.status_code), "message": str(error)}}
    except grpc.RpcError as error:
        return {"error": {"status": str(error.code()), "message": error.details()}}


async def main() -> None:
    logging.disable(logging.CRITICAL)  # kserve logs every failed call with a traceback
    results = {name: await _run(scenario)
               for name, scenario in scenarios(sys.argv[1], sys.argv[2]).items()}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
