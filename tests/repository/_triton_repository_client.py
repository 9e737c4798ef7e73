"""tritonclient (HTTP and gRPC) calling the repository, statistics and config extensions of a
running ``ebb serve DIR``; prints one JSON object of results.

Run as ``python _triton_repository_client.py HTTP_URL GRPC_TARGET``. In its own process because
tritonclient.grpc and ebb's generated stubs both register the protobuf package ``inference``.
Each scenario's result is ``{"value": ...}`` or ``{"error": {"status": ..., "message": ...}}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

ROW = np.arange(16, dtype=np.float32).reshape(1, 16)


def _attempt(call: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"value": call()}
    except InferenceServerException as error:
        return {"error": {"status": str(error.status()), "message": error.message()}}


def _infer(client: Any, module: Any, model: str, version: str = "") -> str:
    tensor = module.InferInput("INPUT0", [1, 16], "FP32")
    tensor.set_data_from_numpy(ROW)
    result = client.infer(model, [tensor], model_version=version)
    response = result.get_response()
    return str(response["model_version"] if isinstance(response, dict)
               else response.model_version)


def scenarios(client: Any, module: Any, as_json: dict[str, Any]) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    results["index"] = _attempt(lambda: client.get_model_repository_index(**as_json))
    results["config"] = _attempt(lambda: client.get_model_config("double", **as_json))
    results["config_version"] = _attempt(lambda: client.get_model_config("double", "2",
                                                                         **as_json))
    results["config_unknown"] = _attempt(lambda: client.get_model_config("nope", **as_json))
    results["infer_latest"] = _attempt(lambda: _infer(client, module, "double"))
    results["infer_v2"] = _attempt(lambda: _infer(client, module, "double", "2"))
    results["stats_v2"] = _attempt(lambda: client.get_inference_statistics("double", "2",
                                                                           **as_json))
    results["stats_all"] = _attempt(lambda: client.get_inference_statistics(**as_json))
    results["unload"] = _attempt(lambda: client.unload_model("slow"))
    results["ready_after_unload"] = _attempt(lambda: client.is_model_ready("slow"))
    results["index_after_unload"] = _attempt(
        lambda: client.get_model_repository_index(**as_json))
    results["load"] = _attempt(lambda: client.load_model("slow"))
    results["ready_after_load"] = _attempt(lambda: client.is_model_ready("slow"))
    results["load_unknown"] = _attempt(lambda: client.load_model("nope"))
    results["unload_unknown"] = _attempt(lambda: client.unload_model("nope"))
    return results


def main() -> None:
    http_url, grpc_target = sys.argv[1], sys.argv[2]
    http = triton_http.InferenceServerClient(http_url)
    grpc = triton_grpc.InferenceServerClient(grpc_target)
    print(json.dumps({"http": scenarios(http, triton_http, {}),
                      "grpc": scenarios(grpc, triton_grpc, {"as_json": True})}))


if __name__ == "__main__":
    main()
