"""Clients for the live failure and shutdown tests: REST and gRPC calls that report what the
client saw (status, Retry-After or retry pushback, time), never raising."""

from __future__ import annotations

import time
from dataclasses import dataclass

import grpc
import httpx
import psutil

from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc


@dataclass(frozen=True)
class Seen:
    status: str
    """HTTP status as text, or the gRPC status name ("OK", "UNAVAILABLE", ...)."""
    retry_hint: str | None
    """Retry-After (REST) or grpc-retry-pushback-ms (gRPC); None when absent."""
    message: str
    sent_at: float
    seconds: float


def rest_client(url: str) -> httpx.Client:
    """One per thread: a new client costs ~0.3 s on a busy machine (its TLS context)."""
    return httpx.Client(base_url=url, timeout=60)


def rest_infer(client: httpx.Client, value: float, timeout_ms: int | None = None,
               model: str = "chaos") -> Seen:
    headers = {"Ebb-Timeout-Ms": str(timeout_ms)} if timeout_ms else {}
    body = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2],
                        "data": [value, 0.0]}]}
    began = time.monotonic()
    try:
        response = client.post(f"/v2/models/{model}/infer", json=body, headers=headers)
    except httpx.HTTPError as error:
        return Seen(f"transport: {type(error).__name__}", None, str(error), began,
                    time.monotonic() - began)
    return Seen(str(response.status_code), response.headers.get("retry-after"), response.text,
                began, time.monotonic() - began)


def grpc_infer(stub: pb_grpc.GRPCInferenceServiceStub, value: float, model: str = "chaos"
               ) -> Seen:
    request = pb.ModelInferRequest(model_name=model)
    tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 2])
    tensor.contents.fp32_contents.extend([value, 0.0])
    began = time.monotonic()
    try:
        stub.ModelInfer(request, timeout=60)
    except grpc.RpcError as error:
        trailers = dict(error.trailing_metadata() or ())
        return Seen(error.code().name, trailers.get("grpc-retry-pushback-ms"),
                    error.details() or "", began, time.monotonic() - began)
    return Seen("OK", None, "", began, time.monotonic() - began)


def stub_for(target: str) -> tuple[grpc.Channel, pb_grpc.GRPCInferenceServiceStub]:
    channel = grpc.insecure_channel(target)
    return channel, pb_grpc.GRPCInferenceServiceStub(channel)


def metric(url: str, line_prefix: str) -> float:
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def worker_pids(gateway_pid: int) -> list[int]:
    """The worker processes: children of the gateway's fork server."""
    workers = []
    for child in psutil.Process(gateway_pid).children():
        if "forkserver" in " ".join(child.cmdline()):
            workers += [grand.pid for grand in child.children()]
    return workers


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
