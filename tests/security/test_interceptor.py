"""The gRPC service behind the gate, in process on 127.0.0.1:0: UNAUTHENTICATED,
PERMISSION_DENIED (role in the interceptor, model from the request), RESOURCE_EXHAUSTED."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from ebb.core.clock import FakeClock
from ebb.core.dispatch import InferenceRecord
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from ebb.protocol.grpc_server import create_server
from ebb.security.interceptor import GateInterceptor, _peer_host
from ebb.security.ratelimit import Limit
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher
from tests.security._gate import SECRETS, ListRejections, make_gate


@dataclass
class Rpc:
    clock: FakeClock
    rejections: ListRejections
    stub: Any


async def _serve(keys: bool, default: Limit | None) -> AsyncIterator[Rpc]:
    clock, rejections = FakeClock(), ListRejections()
    records: list[InferenceRecord] = []
    gate = make_gate(clock, rejections, keys, default)
    server = create_server(fake_dispatcher(records), INFO, ListRecorder(), 1 << 20,
                           [GateInterceptor(gate)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield Rpc(clock, rejections, pb_grpc.GRPCInferenceServiceStub(channel))
    finally:
        await server.stop(None)


@pytest.fixture
async def rpc() -> AsyncIterator[Rpc]:
    async for served in _serve(keys=True, default=None):
        yield served


def _infer(model: str = "double") -> Any:
    request = pb.ModelInferRequest(model_name=model)
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4]).contents.fp32_contents \
        .extend([1, 2, 3, 4])
    return request


def _auth(key_id: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {SECRETS[key_id]}"),)


async def _code(call: Any, status: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == status, caught.value.details()
    details: str = caught.value.details() or ""
    for secret in SECRETS.values():
        assert secret not in details and secret not in str(caught.value.trailing_metadata())
    return details


async def test_health_is_open_and_good_keys_pass(rpc: Rpc) -> None:
    assert (await rpc.stub.ServerLive(pb.ServerLiveRequest())).live
    assert (await rpc.stub.ServerReady(pb.ServerReadyRequest())).ready
    answer = await rpc.stub.ModelInfer(_infer(), metadata=_auth("ci"))
    assert list(answer.outputs[0].contents.fp32_contents) == [2, 4, 6, 8]
    ready = await rpc.stub.ModelReady(pb.ModelReadyRequest(name="double"), metadata=_auth("ci"))
    assert ready.ready
    metadata = await rpc.stub.ServerMetadata(pb.ServerMetadataRequest(), metadata=_auth("prom"))
    assert metadata.name == "ebb"
    assert rpc.rejections.calls == []


BAD_METADATA = [
    ("none", ()),
    ("Basic", (("authorization", "Basic dXNlcjpwYXNz"),)),
    ("bare secret", (("authorization", SECRETS["ci"]),)),
    ("Bearer only", (("authorization", "Bearer"),)),
    ("unknown id", (("authorization", "Bearer ebb_nobody.abcdefghijklmnop"),)),
    ("wrong secret", (("authorization", "Bearer ebb_ci.abcdefghijklmnopqrs"),)),
    ("revoked", (("authorization", f"Bearer {SECRETS['revoked']}"),)),
    ("twice", (("authorization", f"Bearer {SECRETS['ci']}"),
               ("authorization", f"Bearer {SECRETS['ci']}"))),
    ("binary metadata", (("authorization-bin", SECRETS["ci"].encode()),)),
]


@pytest.mark.parametrize(("case", "metadata"), BAD_METADATA, ids=[c for c, _ in BAD_METADATA])
async def test_missing_or_bad_keys_are_unauthenticated(rpc: Rpc, case: str,
                                                       metadata: Any) -> None:
    details = await _code(rpc.stub.ModelInfer(_infer(), metadata=metadata),
                          grpc.StatusCode.UNAUTHENTICATED)
    assert "key" in details.lower()
    assert rpc.rejections.calls == [("unauthenticated", "grpc")]


async def test_wrong_role_or_model_is_permission_denied(rpc: Rpc) -> None:
    denied = grpc.StatusCode.PERMISSION_DENIED
    assert "'observe'" in await _code(
        rpc.stub.ServerMetadata(pb.ServerMetadataRequest(), metadata=_auth("ci")), denied)
    assert "'infer'" in await _code(rpc.stub.ModelInfer(_infer(), metadata=_auth("prom")),
                                    denied)
    assert "model 'pair'" in await _code(
        rpc.stub.ModelInfer(_infer("pair"), metadata=_auth("ci")), denied)
    assert "model 'pair'" in await _code(
        rpc.stub.ModelMetadata(pb.ModelMetadataRequest(name="pair"), metadata=_auth("ci")),
        denied)
    assert "model 'pair'" in await _code(
        rpc.stub.ModelReady(pb.ModelReadyRequest(name="pair"), metadata=_auth("ci")), denied)
    assert rpc.rejections.calls == [("forbidden", "grpc")] * 5


async def test_a_key_over_its_rate_is_resource_exhausted(rpc: Rpc) -> None:
    for _ in range(2):
        await rpc.stub.ModelInfer(_infer(), metadata=_auth("slow"))
    call = rpc.stub.ModelInfer(_infer(), metadata=_auth("slow"))
    assert "over its rate limit" in await _code(call, grpc.StatusCode.RESOURCE_EXHAUSTED)
    trailing = dict(await call.trailing_metadata())
    assert int(trailing["grpc-retry-pushback-ms"]) == 1000
    rpc.clock.advance(1.0)
    await rpc.stub.ModelInfer(_infer(), metadata=_auth("slow"))
    assert rpc.rejections.calls == [("rate_limited", "grpc")]


async def test_without_keys_the_limit_is_per_peer_and_probes_are_free() -> None:
    async for rpc in _serve(keys=False, default=Limit(1.0, 1.0)):
        await rpc.stub.ModelInfer(_infer())
        await _code(rpc.stub.ModelInfer(_infer()), grpc.StatusCode.RESOURCE_EXHAUSTED)
        for _ in range(5):
            await rpc.stub.ServerLive(pb.ServerLiveRequest())
        assert rpc.rejections.calls == [("rate_limited", "grpc")]


def test_peer_addresses() -> None:
    assert _peer_host("ipv4:10.0.0.7:5123") == "10.0.0.7"
    assert _peer_host("ipv6:[::1]:5123") == "::1"
    assert _peer_host("unix:/tmp/socket") == "/tmp/socket"
