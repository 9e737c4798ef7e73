"""The gRPC servicer in process over a FakeDispatcher, on a grpc.aio server at 127.0.0.1:0:
every RPC, both tensor encodings, status mapping, recording and interceptors, with no workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
import pytest

from ebb.core.dispatch import InferenceRecord
from ebb.core.errors import ModelError, Unavailable
from ebb.core.fake_dispatcher import FakeDispatcher
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from ebb.protocol.grpc_server import create_server
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher

ROW = [1.0, 2.0, 3.0, 4.0]


@dataclass
class Grpc:
    fake: FakeDispatcher
    recorder: ListRecorder
    records: list[InferenceRecord]
    stub: Any


@pytest.fixture
def interceptors() -> Sequence[Any]:
    return ()


@pytest.fixture
async def rpc(interceptors: Sequence[Any]) -> AsyncIterator[Grpc]:
    records: list[InferenceRecord] = []
    fake = fake_dispatcher(records)
    recorder = ListRecorder()
    server = create_server(fake, INFO, recorder, 1 << 20, interceptors)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Grpc(fake, recorder, records, pb_grpc.GRPCInferenceServiceStub(channel))
    finally:
        await server.stop(None)


def _infer_request(model: str = "double", raw: bool = False, **fields: Any) -> Any:
    request = pb.ModelInferRequest(model_name=model, **fields)
    tensor = request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4])
    if raw:
        request.raw_input_contents.append(np.array([ROW], np.float32).tobytes())
    else:
        tensor.contents.fp32_contents.extend(ROW)
    return request


async def _status_of(call: Awaitable[Any]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code(), caught.value.details()


async def test_health_and_server_metadata(rpc: Grpc) -> None:
    assert (await rpc.stub.ServerLive(pb.ServerLiveRequest())).live
    assert (await rpc.stub.ServerReady(pb.ServerReadyRequest())).ready
    metadata = await rpc.stub.ServerMetadata(pb.ServerMetadataRequest())
    assert (metadata.name, metadata.version) == ("ebb", "test")
    assert list(metadata.extensions) == ["binary_tensor_data", "parameters"]
    rpc.fake.not_ready.add("pair")
    assert not (await rpc.stub.ServerReady(pb.ServerReadyRequest())).ready


async def test_model_readiness_and_metadata(rpc: Grpc) -> None:
    rpc.fake.not_ready.add("pair")
    assert (await rpc.stub.ModelReady(pb.ModelReadyRequest(name="double"))).ready
    assert not (await rpc.stub.ModelReady(pb.ModelReadyRequest(name="pair"))).ready
    metadata = await rpc.stub.ModelMetadata(pb.ModelMetadataRequest(name="double", version="1"))
    assert (metadata.name, list(metadata.versions)) == ("double", ["1", "2"])
    assert [(t.name, t.datatype, list(t.shape)) for t in metadata.inputs] == [
        ("INPUT0", "FP32", [-1, 4])]
    assert (await _status_of(rpc.stub.ModelMetadata(pb.ModelMetadataRequest(name="nope"))))[0] \
        is grpc.StatusCode.NOT_FOUND
    code, details = await _status_of(rpc.stub.ModelReady(pb.ModelReadyRequest(name="double",
                                                                              version="9")))
    assert code is grpc.StatusCode.NOT_FOUND and "no version '9'" in details


async def test_infer_typed_and_raw_contents(rpc: Grpc) -> None:
    answer = await rpc.stub.ModelInfer(_infer_request(id="r1"))
    assert (answer.model_name, answer.model_version, answer.id) == ("double", "2", "r1")
    assert list(answer.outputs[0].contents.fp32_contents) == [2.0, 4.0, 6.0, 8.0]
    answer = await rpc.stub.ModelInfer(_infer_request(raw=True))
    assert list(answer.outputs[0].shape) == [1, 4]
    assert np.frombuffer(answer.raw_output_contents[0], np.float32).tolist() == \
        [2.0, 4.0, 6.0, 8.0]
    assert rpc.recorder.calls == [("double", "grpc", 200)] * 2


async def test_errors_map_to_grpc_statuses_and_are_recorded(
        rpc: Grpc, caplog: pytest.LogCaptureFixture) -> None:
    infer = rpc.stub.ModelInfer
    assert (await _status_of(infer(_infer_request("nope"))))[0] is grpc.StatusCode.NOT_FOUND
    bad = _infer_request()
    bad.outputs.add(name="nah")
    assert (await _status_of(infer(bad)))[0] is grpc.StatusCode.INVALID_ARGUMENT
    rpc.fake.error = Unavailable("queue full", retry_after_s=0.25)
    call = infer(_infer_request())
    assert (await _status_of(call)) == (grpc.StatusCode.UNAVAILABLE, "queue full")
    assert ("grpc-retry-pushback-ms", "250") in tuple(await call.trailing_metadata())
    rpc.fake.error = ModelError("model double failed: boom")
    assert (await _status_of(infer(_infer_request()))) == (
        grpc.StatusCode.INTERNAL, "model double failed: boom")
    rpc.fake.error = RuntimeError("secret detail")
    with caplog.at_level(logging.ERROR, logger="ebb.grpc"):
        assert (await _status_of(infer(_infer_request()))) == (
            grpc.StatusCode.INTERNAL, "internal server error")
    assert "secret detail" in caplog.text
    assert rpc.recorder.calls == [("double", "grpc", code) for code in (400, 503, 500, 500)]
    assert [record.status for record in rpc.records] == [404, 400, 503, 500, 500]


async def test_hanging_dispatcher_ends_at_the_client_deadline(rpc: Grpc) -> None:
    rpc.fake.hang = True
    code, _ = await _status_of(rpc.stub.ModelInfer(_infer_request(), timeout=0.5))
    assert code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert rpc.fake.requests[0].timeout_s is not None
    assert rpc.fake.requests[0].timeout_s <= 0.5


class _RequireKey(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Refuses every call without ``x-key: open`` metadata."""

    async def intercept_service(self, continuation: Callable[[Any], Awaitable[Any]],
                                details: Any) -> Any:
        if ("x-key", "open") in tuple(details.invocation_metadata or ()):
            return await continuation(details)
        return grpc.unary_unary_rpc_method_handler(_refuse)


async def _refuse(request: Any, context: Any) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "an x-key is needed")


@pytest.mark.parametrize("interceptors", [(_RequireKey(),)])
async def test_interceptors_run_before_the_servicer(rpc: Grpc) -> None:
    code, details = await _status_of(rpc.stub.ModelInfer(_infer_request()))
    assert (code, details) == (grpc.StatusCode.UNAUTHENTICATED, "an x-key is needed")
    answer = await rpc.stub.ModelInfer(_infer_request(), metadata=(("x-key", "open"),))
    assert list(answer.outputs[0].contents.fp32_contents) == [2.0, 4.0, 6.0, 8.0]
    assert rpc.recorder.calls == [("double", "grpc", 200)]
