"""Small TLS clients for the tests: httpx and gRPC with a chosen CA and client certificate.

A refusal comes back as the error's text, so a test can assert that it is refused *and* that
the message says why.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc
import httpx

from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from tests.security._pki import Issued

ROW = [float(x) for x in range(16)]


def client_context(ca: Path, client: Issued | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    if client is not None:
        context.load_cert_chain(client.cert, client.key)
    return context


def rest_infer(url: str, ca: Path, client: Issued | None = None) -> list[float]:
    """OUTPUT0 of ``double`` on one row, over a fresh https connection."""
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 16], "data": ROW}]}
    with httpx.Client(verify=client_context(ca, client), timeout=10) as http:
        response = http.post(f"{url}/v2/models/double/infer", json=body)
    response.raise_for_status()
    data: list[float] = response.json()["outputs"][0]["data"]
    return data


def rest_refusal(url: str, ca: Path, client: Issued | None = None) -> str:
    try:
        rest_infer(url, ca, client)
    except (httpx.TransportError, ssl.SSLError) as error:
        return f"{type(error).__name__}: {error}"
    raise AssertionError(f"{url} answered a client it should have refused")


def grpc_credentials(ca: Path, client: Issued | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        ca.read_bytes(), client.key.read_bytes() if client else None,
        client.cert.read_bytes() if client else None)


def grpc_request() -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="double")
    tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 16])
    tensor.contents.fp32_contents.extend(ROW)
    return request


def grpc_infer(target: str, ca: Path, client: Issued | None = None) -> list[float]:
    with grpc.secure_channel(target, grpc_credentials(ca, client)) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        answer = stub.ModelInfer(grpc_request(), timeout=10)
    return list(answer.outputs[0].contents.fp32_contents)


def grpc_refusal(target: str, ca: Path, client: Issued | None = None) -> str:
    """The status and details of a refused call (UNAVAILABLE: the handshake failed)."""
    try:
        grpc_infer(target, ca, client)
    except grpc.RpcError as error:
        return f"{error.code().name}: {error.details()}"  # type: ignore[attr-defined]
    raise AssertionError(f"{target} answered a client it should have refused")
