"""tritonclient (HTTP and gRPC) against a server with API keys; prints one JSON object.

Run as ``python _triton_clients.py HTTP_ADDRESS GRPC_ADDRESS`` with the secrets in the
environment (``EBB_TEST_GOOD``: an infer key for ``double``, ``EBB_TEST_BAD``: a wrong one). It
runs in its own process: tritonclient.grpc and Ebb's stubs register the same protobuf package.
Each result is a status string: ``ok`` or the error's status.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http
from tritonclient.utils import InferenceServerException

X = np.ones((1, 16), dtype=np.float32)


def _run(call: Callable[[], Any]) -> str:
    try:
        call()
    except InferenceServerException as error:
        return str(error.status())
    return "ok"


def main() -> None:
    http_address, grpc_address = sys.argv[1], sys.argv[2]
    # functions, not dicts: tritonclient.http adds its own headers to the dict it is given
    def good() -> dict[str, str]:
        return {"authorization": f"Bearer {os.environ['EBB_TEST_GOOD']}"}

    def bad() -> dict[str, str]:
        return {"authorization": f"Bearer {os.environ['EBB_TEST_BAD']}"}

    http = triton_http.InferenceServerClient(http_address, network_timeout=30)
    rpc = triton_grpc.InferenceServerClient(grpc_address)
    http_input = triton_http.InferInput("INPUT0", [1, 16], "FP32")
    http_input.set_data_from_numpy(X)
    grpc_input = triton_grpc.InferInput("INPUT0", [1, 16], "FP32")
    grpc_input.set_data_from_numpy(X)
    results = {
        "http_live": _run(lambda: http.is_server_live()),
        "http_infer_good": _run(lambda: http.infer("double", [http_input], headers=good())),
        "http_infer_bad": _run(lambda: http.infer("double", [http_input], headers=bad())),
        "http_infer_none": _run(lambda: http.infer("double", [http_input])),
        "http_metadata_good": _run(lambda: http.get_model_metadata("double", headers=good())),
        "grpc_live": _run(lambda: rpc.is_server_live()),
        "grpc_infer_good": _run(lambda: rpc.infer("double", [grpc_input], headers=good())),
        "grpc_infer_bad": _run(lambda: rpc.infer("double", [grpc_input], headers=bad())),
        "grpc_infer_none": _run(lambda: rpc.infer("double", [grpc_input])),
        "grpc_server_metadata_good": _run(lambda: rpc.get_server_metadata(headers=good())),
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
