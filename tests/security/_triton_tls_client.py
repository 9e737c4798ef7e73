"""tritonclient (HTTP and gRPC) over TLS against a running ``ebb serve``; prints JSON results.

Run as ``python _triton_tls_client.py CONFIG`` where CONFIG is a JSON object with ``http`` and
``grpc`` (host:port), ``ca`` and optionally ``cert``/``key`` (PEM paths). Its own process,
because tritonclient.grpc and ebb's generated stubs both register the protobuf package
``inference``. Each scenario is ``{"value": ...}`` or ``{"error": "..."}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import tritonclient.grpc as triton_grpc
import tritonclient.http as triton_http

DOUBLE_INPUT = np.arange(16, dtype=np.float32).reshape(1, 16)


def _http(config: dict[str, Any], with_cert: bool) -> list[float]:
    options = {"ca_certs": config["ca"]}
    if with_cert:
        options |= {"certfile": config["cert"], "keyfile": config["key"]}
    client = triton_http.InferenceServerClient(config["http"], ssl=True, ssl_options=options,
                                               connection_timeout=10, network_timeout=10)
    tensor = triton_http.InferInput("INPUT0", [1, 16], "FP32")
    tensor.set_data_from_numpy(DOUBLE_INPUT)
    result = client.infer("double", [tensor])
    return [float(x) for x in result.as_numpy("OUTPUT0").ravel()]


def _grpc(config: dict[str, Any], with_cert: bool) -> list[float]:
    extra = {"private_key": config["key"], "certificate_chain": config["cert"]} if with_cert else {}
    client = triton_grpc.InferenceServerClient(config["grpc"], ssl=True,
                                               root_certificates=config["ca"], **extra)
    tensor = triton_grpc.InferInput("INPUT0", [1, 16], "FP32")
    tensor.set_data_from_numpy(DOUBLE_INPUT)
    result = client.infer("double", [tensor], client_timeout=10)
    return [float(x) for x in result.as_numpy("OUTPUT0").ravel()]


def main() -> None:
    config = json.loads(sys.argv[1])
    scenarios: dict[str, Callable[[], Any]] = {
        "http": lambda: _http(config, with_cert="cert" in config),
        "grpc": lambda: _grpc(config, with_cert="cert" in config),
    }
    if "cert" in config:
        scenarios["http_without_cert"] = lambda: _http(config, with_cert=False)
        scenarios["grpc_without_cert"] = lambda: _grpc(config, with_cert=False)
    results: dict[str, dict[str, Any]] = {}
    for name, scenario in scenarios.items():
        try:
            results[name] = {"value": scenario()}
        except Exception as error:
            results[name] = {"error": f"{type(error).__name__}: {error}"}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
