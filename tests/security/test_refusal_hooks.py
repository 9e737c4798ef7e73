"""Refused inferences reach the gate's refusal hooks (the inference log's seam) with the
status, protocol, model and key id, and never the secret; other refused calls do not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from ebb.core.clock import FakeClock
from ebb.core.dispatch import InferenceRecord
from ebb.protocol._generated import open_inference_pb2 as pb
from ebb.protocol._generated import open_inference_pb2_grpc as pb_grpc
from ebb.protocol.asgi import apply_middleware
from ebb.protocol.grpc_server import create_server
from ebb.protocol.rest import RestApp
from ebb.security.gate import UNAUTHENTICATED, Denial, Gate, Refusal
from ebb.security.interceptor import GateInterceptor, peek_model_name
from ebb.security.middleware import gate_middleware
from ebb.security.policy import is_inference_grpc, is_inference_http
from tests.protocol._inprocess import INFO, ListRecorder, fake_dispatcher
from tests.security._gate import SECRETS, ListRejections, bearer, make_gate

BODY = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4], "data": [1] * 4}]}


def _gate() -> tuple[Gate, list[Refusal]]:
    gate = make_gate(FakeClock(), ListRejections())
    refusals: list[Refusal] = []
    gate.refusal_hooks.append(refusals.append)
    return gate, refusals


def _no_secret(refusals: list[Refusal]) -> None:
    for refusal in refusals:
        for secret in SECRETS.values():
            assert secret not in repr(refusal) and secret[-20:] not in repr(refusal)


async def test_rest_refusals_of_inferences_reach_the_hooks() -> None:
    gate, refusals = _gate()
    records: list[InferenceRecord] = []
    app = apply_middleware(RestApp(fake_dispatcher(records), INFO, ListRecorder(), 1 << 20, {}),
                           [gate_middleware(gate)])
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://ebb") as client:
        assert (await client.post("/v2/models/double/infer", json=BODY)).status_code == 401
        bad = {"authorization": f"Bearer {SECRETS['revoked']}"}
        assert (await client.post("/v2/models/double/infer", json=BODY,
                                  headers=bad)).status_code == 401
        assert (await client.post("/v2/models/double/infer", json=BODY,
                                  headers=bearer("prom"))).status_code == 403
        assert (await client.post("/v1/models/pair:predict", json={"instances": [[1]]},
                                  headers=bearer("ci"))).status_code == 403
        for _ in range(2):
            assert (await client.post("/v2/models/double/infer", json=BODY,
                                      headers=bearer("slow"))).status_code == 200
        assert (await client.post("/v2/models/double/infer", json=BODY,
                                  headers=bearer("slow"))).status_code == 429
        # not inferences: refused, counted, but not the inference log's business
        assert (await client.get("/v2/models/double")).status_code == 401
        assert (await client.get("/metrics", headers=bearer("ci"))).status_code == 403
        doubled = [("authorization", "Bearer a"), ("authorization", "Bearer b")]
        assert (await client.post("/v2/models/double/infer", json=BODY,
                                  headers=doubled)).status_code == 401
    assert [(r.status, r.protocol, r.model, r.key_id) for r in refusals] == [
        (401, "rest", "double", None), (401, "rest", "double", None),
        (403, "rest", "double", "prom"), (403, "rest_v1", "pair", "ci"),
        (429, "rest", "double", "slow"), (401, "rest", "double", None)]
    assert "not valid" in refusals[1].message and "rate limit" in refusals[4].message
    _no_secret(refusals)


@pytest.fixture
async def grpc_gate() -> AsyncIterator[tuple[Any, list[Refusal]]]:
    gate, refusals = _gate()
    records: list[InferenceRecord] = []
    server = create_server(fake_dispatcher(records), INFO, ListRecorder(), 1 << 20,
                           [GateInterceptor(gate)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.GRPCInferenceServiceStub(channel), refusals
    finally:
        await server.stop(None)


def _infer(model: str = "double") -> Any:
    request = pb.ModelInferRequest(model_name=model, id="x")
    request.inputs.add(name="INPUT0", datatype="FP32", shape=[1, 4]).contents.fp32_contents \
        .extend([1, 2, 3, 4])
    return request


def _auth(key_id: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {SECRETS[key_id]}"),)


async def _refused(call: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await call


async def test_grpc_refusals_of_inferences_reach_the_hooks(
        grpc_gate: tuple[Any, list[Refusal]]) -> None:
    stub, refusals = grpc_gate
    await _refused(stub.ModelInfer(_infer()))
    await _refused(stub.ModelInfer(_infer("pair"), metadata=_auth("prom")))
    await _refused(stub.ModelInfer(_infer("pair"), metadata=_auth("ci")))
    for _ in range(2):
        await stub.ModelInfer(_infer(), metadata=_auth("slow"))
    await _refused(stub.ModelInfer(_infer(), metadata=_auth("slow")))
    await _refused(stub.ModelMetadata(pb.ModelMetadataRequest(name="double")))
    await _refused(stub.ServerMetadata(pb.ServerMetadataRequest(), metadata=_auth("ci")))
    assert [(r.status, r.protocol, r.model, r.key_id) for r in refusals] == [
        (401, "grpc", "double", None), (403, "grpc", "pair", "prom"),
        (403, "grpc", "pair", "ci"), (429, "grpc", "double", "slow")]
    _no_secret(refusals)


def test_a_failing_hook_never_changes_the_refusal() -> None:
    gate, refusals = _gate()

    def broken(refusal: Refusal) -> None:
        raise RuntimeError("hook is broken")

    gate.refusal_hooks.insert(0, broken)
    gate.refused(Denial(UNAUTHENTICATED, "no"), "rest", "double", None)
    assert [r.status for r in refusals] == [401]


def test_which_calls_are_inferences() -> None:
    assert is_inference_http("POST", "/v2/models/m/infer")
    assert is_inference_http("POST", "/v2/models/m/versions/2/infer")
    assert is_inference_http("POST", "/v1/models/m:predict")
    assert not is_inference_http("GET", "/v2/models/m/infer")
    assert not is_inference_http("POST", "/v2/models/m/ready")
    assert not is_inference_http("POST", "/metrics")
    assert is_inference_grpc("/inference.GRPCInferenceService/ModelInfer")
    assert not is_inference_grpc("/inference.GRPCInferenceService/ModelMetadata")


@pytest.mark.parametrize(("raw", "name"), [
    (pb.ModelInferRequest(model_name="double", id="x").SerializeToString(), "double"),
    (pb.ModelInferRequest(model_name="é" * 100).SerializeToString(), "é" * 100),
    (pb.ModelInferRequest(model_name="m" * 300).SerializeToString(), None),  # too long
    (pb.ModelInferRequest(id="x").SerializeToString(), None),  # no name first
    (b"", None), (b"\x0a", None), (b"\x0a\x05ab", None), (b"\x0a\x80", None),
    (b"\x0a\x02\xff\xfe", None), (b"\x0a\xff\xff\xff\xff\x0f", None),
])
def test_peeking_the_model_name(raw: bytes, name: str | None) -> None:
    assert peek_model_name(raw) == name
