"""gRPC: ``inference.GRPCInferenceService/ModelInfer`` on one grpc.aio channel.

The per-request timeout travels as the gRPC deadline, so the server also knows when to give up.
UNAVAILABLE is a rejection (an overloaded server) unless the channel could not connect at all.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc

from ebb.core.types import TensorSpec
from ebb.loadgen.client import Outcome
from ebb.loadgen.config import ClientTls
from ebb.loadgen.payload import PayloadError
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc

_MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [("grpc.max_send_message_length", _MAX_MESSAGE),
            ("grpc.max_receive_message_length", _MAX_MESSAGE)]


def _read(path: Path, flag: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise OSError(f"cannot read {flag} {path}: {error.strerror}") from None


def open_channel(target: str, tls: ClientTls) -> grpc.aio.Channel:
    """A plain channel, or a TLS one verifying the server against ``tls.ca_file`` (None: the
    CAs gRPC knows) and presenting the client certificate when one is given."""
    if not tls.grpc:
        return grpc.aio.insecure_channel(target, options=_OPTIONS)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(tls.ca_file, "--ca-file") if tls.ca_file else None,
        private_key=_read(tls.key_file, "--key-file") if tls.key_file else None,
        certificate_chain=_read(tls.cert_file, "--cert-file") if tls.cert_file else None)
    return grpc.aio.secure_channel(target, credentials, options=_OPTIONS)


async def fetch_grpc_specs(target: str, model: str, timeout_s: float,
                           tls: ClientTls) -> tuple[TensorSpec, ...]:
    """The model's input specs from the ModelMetadata RPC."""
    async with open_channel(target, tls) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        try:
            answer = await stub.ModelMetadata(pb.ModelMetadataRequest(name=model),
                                              timeout=timeout_s)
        except grpc.aio.AioRpcError as error:
            raise PayloadError(f"ModelMetadata({model!r}) on {target} failed: "
                               f"{error.code().name}: {error.details()}") from None
    return tuple(TensorSpec(spec.name, spec.datatype, tuple(spec.shape))
                 for spec in answer.inputs)


class GrpcClient:
    def __init__(self, target: str, message: Any, tls: ClientTls) -> None:
        self._target = target
        self._channel = open_channel(target, tls)
        self._stub = pb_grpc.GRPCInferenceServiceStub(self._channel)
        self._message = message

    async def connect(self, timeout_s: float) -> None:
        """Open the channel before the schedule starts, so its set-up is not counted as lag."""
        try:
            await asyncio.wait_for(self._channel.channel_ready(), timeout_s)
        except TimeoutError:
            raise PayloadError(f"gRPC channel to {self._target} not ready in "
                               f"{timeout_s:g} s") from None

    async def infer(self, timeout_s: float) -> tuple[Outcome, str]:
        try:
            await self._stub.ModelInfer(self._message, timeout=timeout_s)
        except grpc.aio.AioRpcError as error:
            return classify(error.code(), error.details() or "")
        return Outcome.ANSWERED, ""

    async def close(self) -> None:
        await self._channel.close()


def classify(code: grpc.StatusCode, details: str) -> tuple[Outcome, str]:
    detail = f"{code.name}: {details[:200]}"
    if code == grpc.StatusCode.UNAVAILABLE and "connect" not in details.lower():
        return Outcome.REJECTED, detail
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Outcome.TIMEOUT, detail
    return Outcome.ERROR, detail
