"""Hostile gRPC calls in process: bytes that are not a message are INVALID_ARGUMENT with one
rate-limited log line (no traceback); huge claimed shapes and ranks are INVALID_ARGUMENT; the
memory budget answers UNAVAILABLE."""

from __future__ import annotations

import logging

import grpc
import numpy as np
import pytest

from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol.budget import MemoryBudget
from ebb.protocol.grpc_server import create_server
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher

METHOD = "/inference.GRPCInferenceService/ModelInfer"


async def _serve(budget: MemoryBudget | None = None) -> tuple[object, int]:
    server = create_server(fake_dispatcher([]), INFO, ListRecorder(), 1 << 20, (), budget)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def _code(port: int, payload: bytes) -> tuple[grpc.StatusCode, str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)
        try:
            await call(payload, timeout=10)
        except grpc.aio.AioRpcError as error:
            return error.code(), error.details() or ""
    return grpc.StatusCode.OK, ""


def _request(shape: list[int], raw: bytes | None = None, datatype: str = "FP32") -> bytes:
    message = pb.ModelInferRequest(model_name="double")
    tensor = message.inputs.add(name="INPUT0", datatype=datatype, shape=shape)
    if raw is None:
        tensor.contents.fp32_contents.extend([1.0] * 4)
    else:
        message.raw_input_contents.append(raw)
    return message.SerializeToString()  # type: ignore[no-any-return]


async def test_bytes_that_are_not_a_message_are_invalid_argument_logged_once(
        caplog: pytest.LogCaptureFixture) -> None:
    server, port = await _serve()
    try:
        with caplog.at_level(logging.WARNING):
            codes = {await _code(port, b"\xff\xff\xff\x0f not protobuf") for _ in range(20)}
    finally:
        await server.stop(None)  # type: ignore[attr-defined]
    assert {code for code, _ in codes} == {grpc.StatusCode.INVALID_ARGUMENT}
    assert all("not a valid protobuf message" in details for _, details in codes)
    lines = [record for record in caplog.records if "malformed protobuf" in record.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert not [record for record in caplog.records if record.exc_info]


@pytest.mark.parametrize(("payload", "words"), [
    (_request([1, 400_000_000], raw=b"\x04\x00\x00\x00abcd", datatype="BYTES"),
     "claims 400000000"),
    (_request([1] * 65), "65 dimensions"),
    (_request([0, 2**40, 2**40], raw=b""), "too large"),
    (_request([1, 4], raw=np.ones(4, np.float32).tobytes()) + pb.ModelInferRequest(
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name="OUTPUT0")] * 2
    ).SerializeToString(), "more than once"),
])
async def test_hostile_shapes_are_invalid_argument(payload: bytes, words: str) -> None:
    server, port = await _serve()
    try:
        code, details = await _code(port, payload)
    finally:
        await server.stop(None)  # type: ignore[attr-defined]
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert words in details


async def test_the_memory_budget_answers_unavailable() -> None:
    budget = MemoryBudget(100)
    held = budget.reserve(90)
    server, port = await _serve(budget)
    try:
        code, details = await _code(port, _request([1, 4]))
        assert code == grpc.StatusCode.UNAVAILABLE and "max-inflight-request-mb" in details
        held.release()
        assert (await _code(port, _request([1, 4])))[0] == grpc.StatusCode.OK
    finally:
        await server.stop(None)  # type: ignore[attr-defined]
